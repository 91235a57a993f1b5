"""glibc's allocator is tuned for a small box (meshd.allocator)."""

from __future__ import annotations

import subprocess
import sys

TIMEOUT_S = 60


def test_on_glibc_arenas_are_limited_and_freed_memory_goes_back_to_the_system() -> None:
    # In a fresh interpreter: the arena limit is process-wide.
    script = (
        "from pathlib import Path\n"
        "from meshd import allocator\n"
        "def rss():\n"
        "    status = Path('/proc/self/status').read_text().splitlines()\n"
        "    return next(int(l.split()[1]) for l in status if l.startswith('VmRSS'))\n"
        "assert allocator.limit_arenas()\n"
        "allocator.release()\n"
        "before = rss()\n"
        "blocks = [bytearray(100_000) for _ in range(500)]\n"  # ~50 MB below mmap's threshold
        "grown = rss()\n"
        "del blocks[:-1]\n"  # the last block pins the heap's top: only a trim returns the rest
        "assert allocator.release()\n"
        "after = rss()\n"
        "assert grown - before > 40_000, (before, grown)\n"
        "assert after - before < 10_000, (before, grown, after)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=TIMEOUT_S, check=False)
    assert done.returncode == 0, done.stderr

