"""The one writer thread of a store, and the pool of reader threads beside it.

Jobs reach the writer through a queue; queued jobs are committed together in one
`BEGIN IMMEDIATE` transaction, each in its own savepoint (a failing job fails alone), and every
job's future resolves only after COMMIT returned, that is once its data is durable. When the
queue is empty, or after each batch, the writer runs one step of background work (compaction).
Nothing here blocks the event loop: callers await futures.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from crdt_model.errors import ClinicMeshError, StoreError
from meshd.store.schema import SQLiteError

T = TypeVar("T")
MAX_BATCH_JOBS = 64
log = logging.getLogger(__name__)

_STOP = object()


class _Job:
    __slots__ = ("fn", "future", "loop")

    def __init__(self, fn: Callable[[Any], Any], future: asyncio.Future[Any]) -> None:
        self.fn = fn
        self.future = future
        self.loop = future.get_loop()


class WriterThread:
    """Runs write jobs on one connection, in order, in a thread of its own."""

    def __init__(self, conn: Any, background: Callable[[Any], bool] | None = None) -> None:
        self._conn = conn
        self._background = background
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def submit(self, fn: Callable[[Any], T]) -> asyncio.Future[T]:
        """Queue `fn(conn)` to run inside a write transaction; the future resolves after COMMIT."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put(_Job(fn, future))
        return future

    def stop(self) -> None:
        """Finish the queued jobs, then end the thread (blocking; call from a worker thread)."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()

    def close(self) -> None:
        """Close the write connection once the thread has ended (blocking)."""
        if not self._thread.is_alive():
            self._conn.close()

    def _run(self) -> None:
        more_background = True
        while True:
            try:
                first = self._queue.get(block=not more_background)
            except queue.Empty:
                more_background = self._background_step()
                continue
            if first is _STOP:
                return
            batch = [first]
            stop_after = self._drain(batch)
            self._commit(batch)
            more_background = self._background_step()
            if stop_after:
                return

    def _drain(self, batch: list[_Job]) -> bool:
        while len(batch) < MAX_BATCH_JOBS:
            try:
                item = self._queue.get(block=False)
            except queue.Empty:
                return False
            if item is _STOP:
                return True
            batch.append(item)
        return False

    def _commit(self, batch: list[_Job]) -> None:
        results: list[tuple[_Job, Any, BaseException | None]] = []
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in batch:
                conn.execute("SAVEPOINT job")
                try:
                    value = job.fn(conn)
                except Exception as exc:  # one bad job fails alone, the batch goes on
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    results.append((job, None, _as_store_error(exc)))
                else:
                    conn.execute("RELEASE job")
                    results.append((job, value, None))
            conn.execute("COMMIT")
        except Exception as exc:
            _rollback(conn)
            failed = StoreError(f"the store could not save the change: {exc}")
            results = [(job, None, failed) for job in batch]
        for job, value, error in results:
            try:
                job.loop.call_soon_threadsafe(_settle, job.future, value, error)
            except RuntimeError:  # the caller's loop is closed: nobody is waiting any more
                pass

    def _background_step(self) -> bool:
        if self._background is None:
            return False
        try:
            return self._background(self._conn)
        except Exception:  # background work must never kill the writer
            log.exception("store background work failed")
            _rollback(self._conn)
            return False


def _rollback(conn: Any) -> None:
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    except SQLiteError:
        log.exception("store rollback failed")


def _as_store_error(exc: BaseException) -> BaseException:
    if isinstance(exc, ClinicMeshError):
        return exc
    return StoreError(f"the store could not save the change: {exc}")


def _settle(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.done():  # the caller gave up waiting; the write still happened
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


class ReaderPool:
    """A few read connections, each used by one thread at a time."""

    def __init__(self, conns: list[Any]) -> None:
        self._conns: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._all = list(conns)
        for conn in conns:
            self._conns.put(conn)
        self._pool = ThreadPoolExecutor(max_workers=len(conns), thread_name_prefix="store-read")

    async def run(self, fn: Callable[[Any], T]) -> T:
        """`fn(conn)` on a free read connection, in a reader thread."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._call, fn)

    def _call(self, fn: Callable[[Any], T]) -> T:
        conn = self._conns.get()
        try:
            return fn(conn)
        except SQLiteError as exc:
            raise StoreError(f"the store could not be read: {exc}") from exc
        finally:
            _rollback(conn)
            self._conns.put(conn)

    def close(self) -> None:
        """Wait for running reads, then close every connection (blocking)."""
        self._pool.shutdown(wait=True)
        for conn in self._all:
            conn.close()
