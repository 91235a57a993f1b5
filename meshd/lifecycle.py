"""A part of the daemon opened by `start()` and closed by `stop()`, also usable as `async with`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self


class Lifecycle(ABC):
    """`async with part:` starts it on entry and stops it on exit, even when the block raises."""

    @abstractmethod
    async def start(self) -> None:
        """Open the part."""

    @abstractmethod
    async def stop(self) -> None:
        """Close the part and release what it holds."""

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
