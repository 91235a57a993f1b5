"""Document ids and entry ids: builders, and a strict parser for ids that come from peers or URLs.

Doc ids (docs/ARCHITECTURE.md §3): `chart:<uuid>`, `facility:<id>`, `queue:<facility>:<YYYY-MM-DD>`,
`directory:<mesh>`. Anything else is refused with ValidationError, so a malformed id from the
network never reaches the store.
"""

from __future__ import annotations

import re
import uuid
from datetime import date

from crdt_model.errors import ValidationError

SCHEMA_VERSION = 1

CHART = "chart"
FACILITY = "facility"
QUEUE = "queue"
DIRECTORY = "directory"

MAX_DOC_ID_CHARS = 200
# Facility and mesh names and entry ids: short, URL- and key-safe, no ":" (the doc id separator).
_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_ENTRY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def check_slug(value: object, field: str) -> str:
    """`value` if it is a facility/mesh/drug/user/device id (letters, digits, `_.-`, ≤64)."""
    if not isinstance(value, str) or not _SLUG.fullmatch(value):
        raise ValidationError(
            f"{field} must be 1–64 letters, digits, '_', '.' or '-'", field=field
        )
    return value


def check_entry_id(value: object, field: str = "entry_id") -> str:
    """`value` if it is usable as a map key for an entry (letters, digits, `_.:-`, ≤80)."""
    if not isinstance(value, str) or not _ENTRY_ID.fullmatch(value):
        raise ValidationError(
            f"{field} must be 1–80 letters, digits, '_', '.', ':' or '-'", field=field
        )
    return value


def check_uuid(value: object, field: str = "patient_id") -> str:
    """The canonical lower-case form of a UUID string."""
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be a UUID string", field=field)
    if _CANONICAL_UUID.fullmatch(value):  # every stored id: no need to parse it
        return value
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise ValidationError(f"{field} is not a valid UUID", field=field) from None
    if str(parsed) != value.lower():
        raise ValidationError(f"{field} must be a UUID in canonical form", field=field)
    return str(parsed)


def check_day(value: object, field: str = "date") -> str:
    """`value` if it is a real calendar date written YYYY-MM-DD."""
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise ValidationError(f"{field} must be a date written YYYY-MM-DD", field=field)
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"{field} is not a real calendar date", field=field) from None
    return value


def chart_id(patient_id: str) -> str:
    """`chart:<uuid>` for a patient."""
    return f"{CHART}:{check_uuid(patient_id)}"


def facility_id(facility: str) -> str:
    """`facility:<id>`."""
    return f"{FACILITY}:{check_slug(facility, 'facility')}"


def queue_id(facility: str, day: str) -> str:
    """`queue:<facility>:<YYYY-MM-DD>`: one queue per facility and day."""
    return f"{QUEUE}:{check_slug(facility, 'facility')}:{check_day(day)}"


def directory_id(mesh: str) -> str:
    """`directory:<mesh>`."""
    return f"{DIRECTORY}:{check_slug(mesh, 'mesh')}"


def parse_doc_id(doc_id: object) -> tuple[str, tuple[str, ...]]:
    """(kind, parts) of a well-formed doc id; ValidationError(field="doc_id") otherwise."""
    if not isinstance(doc_id, str) or not doc_id or len(doc_id) > MAX_DOC_ID_CHARS:
        raise ValidationError("doc_id must be a non-empty string", field="doc_id")
    kind, _, rest = doc_id.partition(":")
    parts = tuple(rest.split(":")) if rest else ()
    try:
        if kind == CHART and len(parts) == 1:
            if check_uuid(parts[0]) != parts[0]:
                raise ValidationError("chart ids use lower-case UUIDs", field="doc_id")
        elif kind in (FACILITY, DIRECTORY) and len(parts) == 1:
            check_slug(parts[0], "doc_id")
        elif kind == QUEUE and len(parts) == 2:
            check_slug(parts[0], "doc_id")
            check_day(parts[1], "doc_id")
        else:
            raise ValidationError(f"not a clinicmesh document id: {doc_id!r}", field="doc_id")
    except ValidationError as exc:
        raise ValidationError(
            f"malformed document id {doc_id!r}: {exc.message}", field="doc_id"
        ) from None
    return kind, parts
