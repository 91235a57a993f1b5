"""The one door to the `automerge` bindings (no other module imports them): plain Python values
in and out. It hides the quirks of the pinned binding (docs/ARCHITECTURE.md §3): typed scalar
puts, object ids, `Bytes` and `Counter` that do not round-trip, change chunks instead of
`apply_changes`, Rust panics that surface as a BaseException and poison the document. No clocks,
files or sockets."""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeAlias, cast

from automerge.core import ROOT, Document, ObjType, ScalarType, SyncState

from crdt_model.actors import ACTOR_BYTES, ChangeInfo, actor_for, attribution, genesis_actor
from crdt_model.errors import CorruptDocument, ValidationError

Scalar: TypeAlias = str | int | float | bool | None
Value: TypeAlias = Scalar | Mapping[str, "Value"] | Sequence["Value"]
Path: TypeAlias = Sequence[str]

__all__ = ["ACTOR_BYTES", "ChangeInfo", "Doc", "Path", "PeerSyncState", "Scalar", "Tx", "Value",
           "actor_for", "attribution", "genesis_actor"]

@contextmanager
def _guard(doc: Doc | None = None) -> Iterator[None]:
    """Turn binding failures, panics included, into CorruptDocument; a panic poisons `doc`."""
    try:
        yield
    except (ValidationError, CorruptDocument):
        raise
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException as exc:  # pyo3_runtime.PanicException is a BaseException
        if type(exc).__name__ == "PanicException" and doc is not None:
            doc._poisoned = True
        raise CorruptDocument(f"automerge rejected the data: {exc}") from exc


class Tx:
    """A transaction on a Doc: put plain values at a path of map keys from the root."""

    def __init__(self, tx: Any) -> None:
        self._tx = tx
        self._objs: dict[tuple[str, ...], Any] = {(): ROOT}

    def _obj(self, path: Path) -> Any:
        key = tuple(path)
        if key in self._objs:
            return self._objs[key]
        parent = self._obj(key[:-1])
        found = self._tx.get(parent, key[-1])
        if found is None or not isinstance(found[0], ObjType) or found[0] != ObjType.Map:
            raise ValidationError(f"no map at {'/'.join(key)}", field=key[-1])
        self._objs[key] = found[1]
        return found[1]

    def put(self, path: Path, key: str, value: Value) -> None:
        """Set `key` in the map at `path`; dicts and lists become new nested objects."""
        self._put(self._obj(path), key, value, (*path, key))

    def update(self, path: Path, values: Mapping[str, Value]) -> None:
        """Put each key of `values` into the map at `path` (other keys are left untouched)."""
        for key, value in values.items():
            self.put(path, key, value)

    def delete(self, path: Path, key: str) -> None:
        """Remove `key` from the map at `path` (never used on clinical entries)."""
        self._tx.delete(self._obj(path), key)

    def exists(self, path: Path, key: str) -> bool:
        """Whether the map at `path` has `key` (seen from inside this transaction)."""
        return self._tx.get(self._obj(path), key) is not None

    def _put(self, obj: Any, key: str | int, value: Value, path: tuple[str, ...]) -> None:
        put = self._tx.put if isinstance(key, str) else self._tx.insert
        put_object = self._tx.put_object if isinstance(key, str) else self._tx.insert_object
        if isinstance(value, Mapping):
            child = put_object(obj, key, ObjType.Map)
            self._objs[path] = child
            for k, v in value.items():
                self._put(child, str(k), v, (*path, str(k)))
        elif isinstance(value, list | tuple):
            child = put_object(obj, key, ObjType.List)
            for i, v in enumerate(value):
                self._put(child, i, v, (*path, str(i)))
        else:
            put(obj, key, *_scalar(value))


def _scalar(value: Value) -> tuple[Any, Any]:
    if value is None:
        return ScalarType.Null, None
    if isinstance(value, bool):
        return ScalarType.Boolean, value
    if isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            raise ValidationError("integer out of range")
        return ScalarType.Int, value
    if isinstance(value, float):
        return ScalarType.F64, value
    if isinstance(value, str):
        return ScalarType.Str, value
    # Bytes read back as a list of ints and Counter panics in this binding: refuse both.
    raise ValidationError(f"cannot store a {type(value).__name__} in a document")


class Doc:
    """An Automerge document; every call that reaches Rust is guarded."""

    __slots__ = ("_doc", "_plain", "_poisoned", "_shared")

    def __init__(self, doc: Any) -> None:
        self._doc = doc
        self._poisoned = False
        self._plain: bytes | None = None  # the last to_dict(), pickled; dropped by a change
        self._shared: dict[str, Any] | None = None  # see shared_reads

    @classmethod
    def new(cls, actor: bytes) -> Doc:
        """An empty document written by `actor`."""
        return cls(Document(actor_id=actor))

    @classmethod
    def genesis(cls, doc_id: str, build: Callable[[Tx], None], actor: bytes) -> Doc:
        """A document whose first change is the same, byte for byte, on every device."""
        doc = cls(Document(actor_id=genesis_actor(doc_id)))
        doc.change(build)
        doc.set_actor(actor)
        return doc

    @classmethod
    def load(cls, data: bytes, actor: bytes | None = None) -> Doc:
        """A document from a snapshot optionally followed by change chunks."""
        with _guard():
            doc = cls(Document.load(bytes(data)))
            if actor is not None:
                doc._doc.set_actor(actor)
            return doc

    def _live(self) -> Any:
        if self._poisoned:
            raise CorruptDocument("this document panicked earlier and must be reloaded")
        return self._doc

    def save(self) -> bytes:
        """The whole document as a compact snapshot."""
        with _guard(self):
            return bytes(self._live().save())

    def heads(self) -> list[bytes]:
        """The current heads (change hashes), sorted."""
        with _guard(self):
            return sorted(bytes(h) for h in self._live().get_heads())

    def actor(self) -> bytes:
        """The actor id new changes are written with."""
        return bytes(self._live().get_actor())

    def set_actor(self, actor: bytes) -> None:
        """Write further changes as `actor`."""
        with _guard(self):
            self._live().set_actor(actor)

    def fork(self, actor: bytes) -> Doc:
        """An independent copy that writes as `actor`."""
        with _guard(self):
            other = Doc(self._live().fork())
            other._doc.set_actor(actor)
            return other

    def change(self, build: Callable[[Tx], None]) -> list[bytes]:
        """Run `build` in one transaction; returns the new heads. Nothing changes if it raises."""
        doc = self._live()
        self._plain = None
        with _guard(self), doc.transaction() as raw:
            try:
                build(Tx(raw))
            except BaseException:
                raw.rollback()
                raise
        return self.heads()

    def changes_since(self, heads: Sequence[bytes]) -> bytes:
        """The change chunks added after `heads`, concatenated (loadable after a snapshot)."""
        with _guard(self):
            return b"".join(bytes(c.bytes) for c in self._live().get_changes(list(heads)))

    def history(self, since: Sequence[bytes] = ()) -> list[ChangeInfo]:
        """Every change (after `since`) of the document in causal order, for attribution."""
        with _guard(self):
            return [ChangeInfo(bytes(c.hash), bytes(c.actor_id), int(c.seq))
                    for c in self._live().get_changes(list(since))]

    def changes(self, since: Sequence[bytes] = ()) -> list[tuple[ChangeInfo, list[bytes], bytes]]:
        """Every change (after `since`) in causal order: who, the hashes it depends on, bytes."""
        with _guard(self):
            return [(ChangeInfo(bytes(c.hash), bytes(c.actor_id), int(c.seq)),
                     [bytes(d) for d in c.deps], bytes(c.bytes))
                    for c in self._live().get_changes(list(since))]

    def apply(self, chunks: bytes) -> bool:
        """Add change chunks (or a whole saved document); returns whether anything was new. The
        binding has no apply_changes: the document is reloaded from its snapshot plus the chunks.
        On failure the document is left as it was."""
        if not chunks:
            return False
        before, actor = self.heads(), self.actor()
        with _guard(self):
            merged = Document.load(bytes(self._live().save()) + bytes(chunks))
            merged.set_actor(actor)
        self._doc, self._plain = merged, None
        return self.heads() != before

    def merge(self, other: Doc) -> None:
        """Fold every change of `other` into this document."""
        self._plain = None
        with _guard(self):
            self._live().merge(other._live())

    def get(self, path: Path) -> Value:
        """The plain value at `path` (dicts for maps, lists for lists), or None."""
        with _guard(self):
            doc = self._live()
            obj: Any = ROOT
            for i, key in enumerate(path):
                found = doc.get(obj, key)
                if found is None:
                    return None
                if not isinstance(found[0], ObjType):
                    return cast(Value, found[0][1] if i == len(path) - 1 else None)
                obj = found[1]
            return cast(Value, _materialize(doc, obj))

    def to_dict(self) -> dict[str, Any]:
        """The whole document as plain Python values (a fresh copy the caller may change)."""
        return self._shared if self._shared is not None else self._read(keep=True)

    def _read(self, keep: bool) -> dict[str, Any]:
        if self._plain is not None:  # a copy of the pickle of the first reading (~8x cheaper)
            return cast(dict[str, Any], pickle.loads(self._plain))
        value = self.get(())
        assert isinstance(value, dict)
        if keep:
            self._plain = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        return value

    @contextmanager
    def shared_reads(self, keep: bool = True) -> Iterator[None]:
        """Within this block to_dict() returns one shared value, for readers that change nothing
        (projections read a chart six times); a block inside another reads the outer one's. The
        document must not change meanwhile. With `keep` False no copy is kept for later
        to_dict() calls (a document about to be dropped)."""
        if self._shared is not None:
            yield
            return
        self._shared = self._read(keep)
        try:
            yield
        finally:
            self._shared = None

    def generate_sync_message(self, state: PeerSyncState) -> bytes | None:
        """The next Automerge sync message for a peer, or None when there is nothing to say."""
        with _guard(self):
            message = self._live().generate_sync_message(state._state)
            return None if message is None else bytes(message.encode())

    def receive_sync_message(self, state: PeerSyncState, message: bytes) -> None:
        """Apply a sync message from a peer; a bad one raises CorruptDocument and changes nothing
        (it is applied to a fork first, so it can't leave this document half-changed)."""
        from automerge.core import Message

        with _guard(self):
            trial = self._live().fork()
            trial.set_actor(self.actor())
            trial.receive_sync_message(state._state, Message.decode(bytes(message)))
        self._doc, self._plain = trial, None


def _materialize(doc: Any, obj: Any) -> Any:
    # The hot loop of a bulk sync (every received chart is read whole once): scalars inline.
    kind = doc.object_type(obj)
    if kind == ObjType.List:  # length first: reading an empty list's values costs 5 times as much
        return [_materialize(doc, ident) if isinstance(head, ObjType) else head[1]
                for head, ident in doc.values(obj)] if doc.length(obj) else []
    if kind == ObjType.Text:
        return doc.text(obj)
    return {k: _materialize(doc, ident) if isinstance(head, ObjType) else head[1]
            for k, (head, ident) in zip(doc.keys(obj), doc.values(obj), strict=True)}


class PeerSyncState:
    """What one peer is known to have of one document (the binding can't save it)."""

    __slots__ = ("_state",)

    def __init__(self) -> None:
        self._state = SyncState()
