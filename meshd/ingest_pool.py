"""The worker processes of bulk ingest (meshd.ingest): new charts checked on the second core.

`IngestPool` starts its workers with the first batch big enough to use them and answers None
until they are up (the caller checks in-process meanwhile, so a sync never waits on them); it
ends them after IDLE_S without a batch, so an idle node keeps no second process, and each
worker ends by itself when the node's process is gone. Workers get bytes and hand back
`Checked`/`Refused` values; they store nothing and decide nothing the node does not check.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any

from meshd.ingest import Checked, NewChart, Projector, Refused, check_new_charts
from meshd.lifecycle import Lifecycle

log = logging.getLogger(__name__)

IDLE_S = 60.0  # the workers end after this long without a batch
PARENT_POLL_S = 1.0  # how often a worker checks that the node's process is still there
# Two workers on a machine of two cores or more: the node's process only decodes and stores.
DEFAULT_WORKERS = max(1, min(2, os.cpu_count() or 1))


class IngestPool(Lifecycle):
    """Worker processes that check new charts. The first batch starts them; until they are up
    (a second or two: a fresh interpreter imports the project) `check` answers None and the
    caller checks in-process, so a sync never waits on a starting worker."""

    def __init__(self, project: Projector, *, idle_s: float = IDLE_S,
                 workers: int = DEFAULT_WORKERS) -> None:
        self.project = project
        self._idle_s = idle_s
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._ready = False
        self._warming: asyncio.Future[list[None]] | None = None
        self._idle: asyncio.TimerHandle | None = None
        self._ending: asyncio.Task[None] | None = None
        self._running = 0
        self._stopped = False

    async def start(self) -> None:
        """Nothing to open: the workers start with the first batch."""
        self._stopped = False

    async def stop(self) -> None:
        """End the workers (waiting for their current batches); safe twice."""
        self._stopped = True
        await self._shutdown()

    @property
    def active(self) -> bool:
        """Whether worker processes are up and taking batches."""
        return self._pool is not None and self._ready

    async def check(
        self, items: Sequence[NewChart], actor: bytes
    ) -> list[Checked | Refused] | None:
        """`check_new_charts(items)` in a worker; None while no worker is ready (it starts),
        or when this pool has none (`workers=0`: every batch is checked in-process)."""
        if self._stopped or not self._workers or not items:
            return None
        loop = asyncio.get_running_loop()
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        if self._pool is None:
            self._start_pool(loop)
        pool = self._pool
        if pool is None or not self._ready:
            self._idle_later(loop)
            return None
        self._running += 1
        try:
            return await loop.run_in_executor(pool, check_new_charts, list(items), actor,
                                              self.project)
        except BrokenProcessPool:
            log.warning("an ingest worker ended; checking in this process")
            if self._pool is pool:
                self._pool, self._ready = None, False
            return None
        finally:
            self._running -= 1
            self._idle_later(loop)

    def _start_pool(self, loop: asyncio.AbstractEventLoop) -> None:
        # spawn: a fork of a process with running threads (the store's) may deadlock.
        pool = ProcessPoolExecutor(self._workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_follow_parent, initargs=(os.getpid(),))
        self._pool, self._ready = pool, False
        with _main_script_hidden():  # the workers are started by these submissions
            warm = [loop.run_in_executor(pool, _warm) for _ in range(self._workers)]
        warming = self._warming = asyncio.ensure_future(asyncio.gather(*warm))
        warming.add_done_callback(lambda done: self._warmed(pool, done))

    def _warmed(self, pool: ProcessPoolExecutor, done: asyncio.Future[Any]) -> None:
        if self._pool is pool and not done.cancelled() and done.exception() is None:
            self._ready = True

    def _idle_later(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._running and self._pool is not None and not self._stopped:
            if self._idle is not None:
                self._idle.cancel()
            self._idle = loop.call_later(self._idle_s, self._idle_out)

    def _idle_out(self) -> None:
        self._idle = None
        if not self._running:
            self._ending = asyncio.get_running_loop().create_task(self._shutdown())

    async def _shutdown(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        pool, self._pool, self._ready = self._pool, None, False
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, True, cancel_futures=True)


@contextmanager
def _main_script_hidden() -> Iterator[None]:
    """Spawned workers import the parent's main script unless it has no `__file__`: for
    `meshd run` that is the whole CLI (2.3 s on the loaded test machine, against 0.7 s for
    what checking needs); the workers never need it (what they run is pickled by module)."""
    main = sys.modules["__main__"]
    path = main.__dict__.pop("__file__", None)
    try:
        yield
    finally:
        if path is not None:
            main.__file__ = path


def _warm() -> None:
    """Run in each new worker: by now it has imported what checking needs."""


def _follow_parent(parent: int) -> None:
    """In each worker: end it when the node's process is gone (a SIGKILL, a power cut of the
    parent alone), else it would wait on its queue forever."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(0)

    threading.Thread(target=watch, name="follow-parent", daemon=True).start()
