"""Steady load does not grow with uptime: a controller's timers stay one per key (client-go's
rule), against real Redis (leases) and the real controller."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from tests.runtime.conftest import keys_only_controller
from threeport_runtime.reconcile.controller import ControllerOptions
from threeport_runtime.reconcile.result import Result
from threeport_runtime.tasks import cancel_and_wait
from threeport_runtime.testing import wait_until


async def test_timers_do_not_grow_with_uptime(stream_prefix: str, redis_client: Redis) -> None:
    """A controller whose keys requeue themselves (60 s, like a drift check) and are resynced
    often keeps one timer per key, however many passes it has made."""
    keys = [f"k{index}" for index in range(5)]
    passes: dict[str, int] = {}

    async def reconcile(name: str) -> Result:
        passes[name] = passes.get(name, 0) + 1
        return Result(requeue_after=60.0)

    # The resync interval is what the test is about.
    options = ControllerOptions(workers=2, resync_interval=0.05)
    controller = keys_only_controller(
        "steady", reconcile, keys, redis=redis_client, prefix=stream_prefix, options=options
    )
    task = asyncio.create_task(controller.run())
    try:

        async def many_passes() -> bool:
            return all(passes.get(key, 0) >= 10 for key in keys)

        await wait_until(many_passes, what="every key reconciled ten times")
        assert len(controller.queue._delayed) == len(keys)  # not one timer per pass
        assert controller.queue.pending_timers() == len(keys)
    finally:
        await cancel_and_wait(task)
