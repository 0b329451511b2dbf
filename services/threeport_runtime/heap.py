"""Handing the C heap's free pages back to the system, once a minute (glibc's ``malloc_trim``).

glibc gives freed memory back to the system only from the top of its heap. Below the top, a
page stays resident after everything on it was freed: a burst of work (a converge, a resync,
a wave of list answers and TLS reads) leaves the heap as large as at its peak for as long as one
long-lived allocation sits above the freed ones. At 10,000 deployments over 100 clusters
workload-delivery's heap held 110 MB free inside it after converging, and ``malloc_trim(0)``
returned 25 MB of RSS in 7.6 ms (``tools/bench/README.md``). The pages stay mapped, so the next
burst takes them again without asking; the trim costs a pass over the free chunks.

Each service runs ``trim_heap_forever`` (``runtime.start_service``): every ``TRIM_INTERVAL``
seconds, when at least ``TRIM_WHEN_FREE`` bytes lie free inside the heap, it trims. Outside
glibc (musl, macOS) there is nothing to call and the task returns at once.

A trim gives back only free memory. A buffer that is allocated but whose contents nobody needs
(a receive buffer between two reads) keeps whatever pages it was carved from: a 256 KB buffer
taken from pages a burst of work left resident is resident itself, though nothing reads it.
``discard_pages`` tells the system so (``madvise(MADV_DONTNEED)``): its whole pages become
zero-filled on demand, resident again only as far as the next read writes.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import mmap
import time
from collections.abc import Callable
from typing import cast

log = logging.getLogger(__name__)

TRIM_INTERVAL = 60.0
# Less than this free inside the heap is the allocator's ordinary slack, not worth a pass.
TRIM_WHEN_FREE = 16 * 2**20


class _MallInfo2(ctypes.Structure):
    """glibc's ``struct mallinfo2`` (2.33 and later): the heap's totals, in bytes."""

    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                     "fordblks", "keepcost")
    ]


class Heap:
    """The process's C heap, as glibc reports it; ``available`` is False elsewhere."""

    def __init__(self) -> None:
        self._trim = None
        self._info = None
        # The process's own symbols: the C library it runs on, found without a search.
        libc = ctypes.CDLL(None)
        if hasattr(libc, "malloc_trim"):
            self._trim = libc.malloc_trim
            self._trim.argtypes, self._trim.restype = [ctypes.c_size_t], ctypes.c_int
            if hasattr(libc, "mallinfo2"):
                self._info = libc.mallinfo2
                self._info.argtypes, self._info.restype = [], _MallInfo2

    @property
    def available(self) -> bool:
        return self._trim is not None

    def free_bytes(self) -> int | None:
        """Bytes free inside the heap (every arena), or None where glibc cannot say."""
        return int(self._info().fordblks) if self._info is not None else None

    def trim(self) -> bool:
        """Gives the heap's free pages back to the system; True if any were."""
        return bool(self._trim(0)) if self._trim is not None else False

    def trim_if_worth_it(self, when_free: int = TRIM_WHEN_FREE) -> bool:
        """Trims when at least ``when_free`` bytes lie free (always, where that is unknown)."""
        free = self.free_bytes()
        if free is not None and free < when_free:
            return False
        started = time.perf_counter()
        trimmed = self.trim()
        log.debug("heap trimmed", extra={"free_bytes": free, "trimmed": trimmed,
                                         "ms": round((time.perf_counter() - started) * 1000, 2)})
        return trimmed


def _madvise() -> Callable[[int, int, int], int] | None:
    libc = ctypes.CDLL(None, use_errno=True)
    if not hasattr(libc, "madvise") or not hasattr(mmap, "MADV_DONTNEED"):
        return None
    call = libc.madvise
    call.argtypes, call.restype = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int], ctypes.c_int
    return cast(Callable[[int, int, int], int], call)


_MADVISE = _madvise()


def discard_pages(buffer: memoryview) -> int:
    """Tells the system the whole pages inside ``buffer`` hold nothing anyone needs (they read
    as zeros afterwards, resident again only once written); returns how many bytes that covered.

    Only for a buffer whose contents are garbage until its next write: a receive buffer between
    reads. The partial pages at either end are left alone: they may hold other allocations."""
    if _MADVISE is None or buffer.readonly or not buffer.contiguous or buffer.nbytes == 0:
        return 0
    start = ctypes.addressof(ctypes.c_char.from_buffer(buffer))
    first = -(-start // mmap.PAGESIZE) * mmap.PAGESIZE
    end = (start + buffer.nbytes) // mmap.PAGESIZE * mmap.PAGESIZE
    if end <= first or _MADVISE(first, end - first, mmap.MADV_DONTNEED) != 0:
        return 0
    return end - first


async def trim_heap_forever(interval: float = TRIM_INTERVAL, heap: Heap | None = None) -> None:
    """Trims the heap every ``interval`` seconds when it is worth it, until cancelled."""
    heap = heap or Heap()
    if not heap.available:
        return
    while True:
        await asyncio.sleep(interval)
        heap.trim_if_worth_it()
