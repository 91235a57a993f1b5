"""glibc's allocator, kept small on a small box (docs/ARCHITECTURE.md §7, memory).

Every thread that allocates (the store's writer and readers, the event loop's executor) gets
its own glibc arena by default, each keeping its freed memory; two arenas are enough for a
node's few threads. Start-up frees much (the heads scan, the signing check): `release` hands
the free pages back to the system. Elsewhere than glibc (musl, macOS) both do nothing.
"""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger(__name__)

NODE_ARENAS = 2
_M_ARENA_MAX = -8  # mallopt's parameter number (glibc malloc.h)


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None)  # the symbols already loaded: the C library's among them
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


def limit_arenas(count: int = NODE_ARENAS) -> bool:
    """At most `count` malloc arenas (call before the node starts its threads); whether set."""
    libc = _glibc()
    if libc is None:
        return False
    if not libc.mallopt(_M_ARENA_MAX, count):
        log.warning("could not limit malloc arenas to %d", count)
        return False
    return True


def release() -> bool:
    """Return the allocator's free pages to the system; whether this is glibc."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
    return libc is not None
