"""Benchmark of the reconcile engine's overhead per no-op key (DESIGN §11).

Run: ``python tools/bench/reconcile.py`` (Redis as for the tests). The baseline is a bare
asyncio queue with the same number of workers calling the same no-op reconcile; the engine is
a ``Controller`` (dedupe queue, Redis lease with fencing, span, metrics) fed by one resync.
Last line: ``RESULT ...``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from threeport_runtime.bus.streams import connect_redis
from threeport_runtime.reconcile.controller import Controller, ControllerOptions, Watch
from threeport_runtime.reconcile.result import Result
from threeport_runtime.tasks import cancel_and_wait
from threeport_runtime.telemetry import configure_telemetry
from threeport_runtime.testing import REDIS_URL, delete_streams, unique_stream_prefix

KEYS = 5_000
WORKERS = 8


async def baseline() -> float:
    queue: asyncio.Queue[str] = asyncio.Queue()
    done = 0
    finished = asyncio.Event()

    async def reconcile(_name: str) -> Result | None:
        return None

    async def worker() -> None:
        nonlocal done
        while True:
            key = await queue.get()
            await reconcile(key)
            done += 1
            if done >= KEYS:
                finished.set()

    started = time.perf_counter()
    for index in range(KEYS):
        queue.put_nowait(f"things/t{index}")
    workers = [asyncio.create_task(worker()) for _ in range(WORKERS)]
    await finished.wait()
    elapsed = time.perf_counter() - started
    await cancel_and_wait(*workers)
    return KEYS / elapsed


async def engine() -> float:
    prefix = unique_stream_prefix()
    redis = connect_redis(REDIS_URL)
    done = 0
    finished = asyncio.Event()

    async def reconcile(_name: str) -> Result | None:
        nonlocal done
        done += 1
        if done >= KEYS:
            finished.set()
        return None

    async def keys() -> AsyncIterator[str]:
        for index in range(KEYS):
            yield f"things/t{index}"

    controller = Controller(
        "bench",
        reconcile,
        redis=redis,
        stream_prefix=prefix,
        watches=[Watch(prefix + "bench.Thing")],
        list_keys=keys,
        options=ControllerOptions(workers=WORKERS, resync_interval=3600),
    )
    started = time.perf_counter()
    task = asyncio.create_task(controller.run())
    await finished.wait()
    elapsed = time.perf_counter() - started
    await cancel_and_wait(task)
    await delete_streams(redis, prefix)
    await redis.aclose()
    return KEYS / elapsed


async def main() -> None:
    configure_telemetry("bench")  # Spans and metrics on, as in a service (no exporter).
    bare = await baseline()
    full = await engine()
    overhead_us = (1 / full - 1 / bare) * 1e6
    print(f"bare asyncio queue: {bare:,.0f} keys/s; Controller with Redis leases: {full:,.0f} keys/s")
    print(f"engine overhead per no-op key: {overhead_us:.0f} µs ({WORKERS} workers, {KEYS} keys)")
    print(
        f"RESULT baseline_keys_per_s={bare:.0f} engine_keys_per_s={full:.0f} "
        f"overhead_us_per_key={overhead_us:.0f} ratio={full / bare:.4f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
