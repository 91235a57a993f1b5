"""A peer's data on its way in: bulk batches read ahead while earlier ones are stored, and the
record of bad data kept for quarantine. Nothing here checks or stores anything itself.

Snapshot batches are stored by INTAKE_TASKS tasks at once, with INTAKE_QUEUE more read ahead:
the next batch is checked (meshd.ingest) while the last one commits, and the session's reader
keeps taking frames meanwhile, so the link's window (meshd.sync.flow) does not stall behind the
store. Memory stays bounded (a few 64 KiB frames). A batch read ahead is not acknowledged: the
peer learns what this device holds from its digest, which lists a document only once committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from meshd.sync.handshake import SecureChannel
from meshd.sync.ports import QuarantineRecord

INTAKE_QUEUE = 2
INTAKE_TASKS = 3


@dataclass(frozen=True, slots=True)
class BadData:
    """A peer sent data that failed to load or decode (reported to the engine for quarantine)."""

    doc_id: str
    reason: str
    data: bytes

    def record(self, channel: SecureChannel, at_ms: int) -> QuarantineRecord:
        """What is kept aside of it, with who sent it and when."""
        return QuarantineRecord(self.doc_id, channel.peer_id, channel.peer_name, self.reason,
                                self.data, at_ms)


class Intake:
    """Work on received batches, run by `tasks()` in order of arrival, INTAKE_TASKS at once."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[Callable[[], Awaitable[object]]] = asyncio.Queue(INTAKE_QUEUE)

    async def put(self, work: Callable[[], Awaitable[object]]) -> None:
        """Queue `work`; waits while INTAKE_QUEUE batches are already waiting."""
        await self._queue.put(work)

    def tasks(self) -> list[asyncio.Task[None]]:
        """The tasks that run the queued work (the session cancels them when it ends); an
        exception (a misbehaving peer) ends the task, and with it the session."""
        return [asyncio.create_task(self._run()) for _ in range(INTAKE_TASKS)]

    async def _run(self) -> None:
        while True:
            work = await self._queue.get()
            await work()
