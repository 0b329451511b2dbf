"""Reconcile leases against real Redis: tokens round-trip, releases free at once, long reconciles
keep their lease.

The fence counter is seeded from the clock (about 1.8e15), so these tests run with the same
16-digit tokens as production; a token that Lua turned into ``1.7961538741763e+15`` never
matched again on renew or release.
"""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from tests.runtime.conftest import keys_only_controller
from threeport_runtime.reconcile.controller import ControllerOptions
from threeport_runtime.reconcile.lease import Leases
from threeport_runtime.reconcile.result import Result
from threeport_runtime.tasks import cancel_and_wait
from threeport_runtime.testing import wait_until


async def test_a_token_renews_and_a_release_frees_the_lease_at_once(stream_prefix: str, redis_client: Redis) -> None:
    mine = Leases(redis_client, namespace=stream_prefix, ttl=15.0, owner="mine")
    theirs = Leases(redis_client, namespace=stream_prefix, ttl=15.0, owner="theirs")
    token = await mine.acquire("thing")
    assert token is not None and token > 10**15  # seeded from the clock, like production
    stored = await redis_client.get(f"{stream_prefix}lease:thing")
    assert stored == f"mine:{token}".encode()
    assert await mine.renew("thing", token)
    assert await theirs.acquire("thing") is None

    await mine.release("thing", token)
    # Released, not expired: another replica takes it over straight away (15 s TTL unused).
    taken = await theirs.acquire("thing")
    assert taken is not None and taken > token
    assert not await mine.renew("thing", token)


async def test_a_reconcile_longer_than_a_third_of_the_ttl_keeps_its_lease(
    stream_prefix: str, redis_client: Redis
) -> None:
    # Short TTL because the test is about it: the keeper renews every 0.2 s while the
    # reconcile runs for about three renewals.
    options = ControllerOptions(workers=1, resync_interval=600.0, lease_ttl=0.6)
    attempts: list[str] = []
    finished: list[str] = []

    async def reconcile(name: str) -> Result | None:
        attempts.append(name)
        await asyncio.sleep(0.7)
        finished.append(name)
        return None

    controller = keys_only_controller(
        "slow", reconcile, ["slow"], redis=redis_client, prefix=stream_prefix, options=options
    )
    task = asyncio.create_task(controller.run())
    try:

        async def finished_and_released() -> bool:
            return bool(finished) and await redis_client.get(f"{stream_prefix}slow:lease:slow") is None

        await wait_until(finished_and_released, what="the slow reconcile to finish and release its lease")
        # A lost lease cancels the attempt and retries it: the first attempt must be the one that finished.
        assert attempts == ["slow"]
    finally:
        await cancel_and_wait(task)
