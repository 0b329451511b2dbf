"""Handing the C heap's free pages back (``threeport_runtime.heap``): memory freed below the heap's
top stays resident until a trim, which gives it back; a heap with little free is left alone; and
every service trims on its interval."""

from __future__ import annotations

import asyncio
import ctypes
import os

import pytest

from tests.runtime.conftest import Toy
from threeport_runtime.heap import TRIM_INTERVAL, Heap, trim_heap_forever
from threeport_runtime.tasks import cancel_and_wait

pytestmark = pytest.mark.skipif(not Heap().available, reason="glibc's malloc_trim is not available here")

BLOCK = 64 * 1024  # under glibc's mmap threshold: taken from the heap, not a mapping of its own
BLOCKS = 1_600  # 100 MB


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_a_trim_gives_back_what_was_freed_below_the_heaps_top() -> None:
    libc = ctypes.CDLL(None)
    libc.malloc.argtypes, libc.malloc.restype = [ctypes.c_size_t], ctypes.c_void_p
    libc.free.argtypes, libc.free.restype = [ctypes.c_void_p], None
    heap = Heap()
    blocks = []
    for _ in range(BLOCKS):
        block = libc.malloc(BLOCK)
        ctypes.memset(block, 1, BLOCK)  # resident
        blocks.append(block)
    # Every 16th block stays allocated, as long-lived allocations sit between short-lived ones.
    kept, freed = blocks[15::16], [block for index, block in enumerate(blocks) if index % 16 != 15]
    try:
        before_free = resident_bytes()
        for block in freed:
            libc.free(block)
        freed_still_resident = resident_bytes()
        # glibc kept the freed pages: what sits above them was not freed, so the top never shrank.
        assert before_free - freed_still_resident < len(freed) * BLOCK // 4
        assert heap.trim_if_worth_it()
        assert freed_still_resident - resident_bytes() > len(freed) * BLOCK // 2
    finally:
        for block in kept:
            libc.free(block)


def test_a_heap_with_little_free_is_left_alone() -> None:
    heap = Heap()
    free = heap.free_bytes()
    assert free is not None and free >= 0
    assert not heap.trim_if_worth_it(when_free=free + 2**40)


class CountingHeap(Heap):
    def __init__(self) -> None:
        super().__init__()
        self.passes = 0

    def trim_if_worth_it(self, when_free: int = 0) -> bool:
        self.passes += 1
        return False


async def test_the_trim_runs_on_its_interval() -> None:
    heap = CountingHeap()
    task = asyncio.create_task(trim_heap_forever(0.05, heap))
    await asyncio.sleep(0.33)
    await cancel_and_wait(task)
    assert 3 <= heap.passes <= 7
    assert TRIM_INTERVAL == 60.0  # the production interval: once a minute


async def test_a_started_service_trims_its_heap(toy: Toy) -> None:
    trims = [task for task in toy.service.tasks if task.get_name() == "heap trim"]
    assert len(trims) == 1 and not trims[0].done()
