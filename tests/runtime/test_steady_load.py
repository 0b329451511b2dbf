"""Steady load does not grow with uptime: a controller's timers stay one per key (client-go's
rule), against real Redis (leases) and the real controller."""

from __future__ import annotations

import asyncio
import time

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


async def test_a_periodic_resync_leaves_out_keys_checked_since_the_previous_one(
    stream_prefix: str, redis_client: Redis
) -> None:
    """Keys reconciled since the previous periodic resync began are not queued again (they were
    level-checked within an interval); older ones are; a resync asked for queues every key."""
    keys = [f"k{index}" for index in range(5)]
    passes: dict[str, int] = {}

    async def reconcile(name: str) -> None:
        passes[name] = passes.get(name, 0) + 1

    async def reconciled(count: int) -> bool:
        return all(passes.get(key, 0) == count for key in keys)

    before_start = time.monotonic()
    controller = keys_only_controller("checked", reconcile, keys, redis=redis_client, prefix=stream_prefix,
                                      options=ControllerOptions(workers=2))  # the production resync interval
    task = asyncio.create_task(controller.run())
    try:
        await wait_until(lambda: reconciled(1), what="the resync at start to reconcile every key")
        # Every key was checked after `before_start`: a periodic resync from then queues none.
        await controller.resync(checked_since=before_start)
        assert len(controller.queue) == 0
        # Checked before now: queued again.
        await controller.resync(checked_since=time.monotonic())
        await wait_until(lambda: reconciled(2), what="every key checked before the resync to be reconciled")

        # Another replica (or the benchmark) asks for a resync of every share: every key, however
        # lately checked, at this replica's next heartbeat.
        await redis_client.incr(f"{stream_prefix}checked:resync")
        await wait_until(lambda: reconciled(3), within=30, what="a requested resync to reconcile every key")
    finally:
        await cancel_and_wait(task)
