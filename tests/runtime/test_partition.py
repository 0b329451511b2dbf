"""Replicas of one controller share the resync (live membership + rendezvous hashing) and lose
nothing when one dies, leaves mid-reconcile or Redis goes away for a moment.

Controllers over a fixed list of keys that no event reaches (``keys_only_controller``), so every
reconcile seen here came from a resync or a rebalance. A test calls ``resync()`` where the
periodic resync (every 300 s) would run. Production membership settings unless a test is about
expiry (it says so).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator

from redis.asyncio import Redis

from tests.runtime.conftest import keys_only_controller
from tests.runtime.toy_service.replica import CONTROLLER, running_replica
from tests.runtime.toy_service.replica import OPTIONS as DYING_REPLICA_OPTIONS
from threeport_runtime.bus.streams import connect_redis
from threeport_runtime.reconcile.controller import Controller, ControllerOptions, Reconciler
from threeport_runtime.reconcile.result import Result
from threeport_runtime.tasks import cancel_and_wait
from threeport_runtime.testing import REDIS_URL, PrivateRedis, wait_until

KEYS = [f"thing-{index}" for index in range(48)]
PRODUCTION = ControllerOptions()


class Ledger:
    """Which replica reconciled which key, and whether two were ever inside one key at once."""

    def __init__(self, pause: float = 0.0):
        self.pause = pause
        self.active: set[str] = set()
        self.overlaps: list[str] = []
        self.finished: list[tuple[str, str]] = []  # (replica, key), in order

    def reconciler(self, replica: str, pause: float | None = None) -> Reconciler:
        async def reconcile(name: str) -> Result | None:
            if name in self.active:
                self.overlaps.append(name)
            self.active.add(name)
            try:
                await asyncio.sleep(self.pause if pause is None else pause)
            finally:
                self.active.discard(name)
            self.finished.append((replica, name))
            return None

        return reconcile

    def by(self, replica: str, since: int = 0) -> set[str]:
        return {key for who, key in self.finished[since:] if who == replica}

    def keys(self, since: int = 0) -> set[str]:
        return {key for _, key in self.finished[since:]}


async def _members_seen(controllers: list[Controller], count: int) -> bool:
    return all(len(c.membership.members) == count for c in controllers)


async def test_replicas_resync_disjoint_shares_that_cover_every_key(stream_prefix: str, redis_client: Redis) -> None:
    ledger = Ledger()
    clients = [connect_redis(REDIS_URL) for _ in range(3)]
    replicas = {
        name: keys_only_controller(
            "shared", ledger.reconciler(name), KEYS, redis=client, prefix=stream_prefix, options=PRODUCTION
        )
        for name, client in zip("abc", clients, strict=True)
    }
    tasks = [asyncio.create_task(c.run()) for c in replicas.values()]
    try:
        await wait_until(
            lambda: _members_seen(list(replicas.values()), 3), within=30, what="each replica to see all three"
        )
        # A replica's first resync after start queues every key; the periodic resync from now
        # on is what is shared.
        await wait_until(lambda: _drained(list(replicas.values()), ledger), what="the start-up resyncs to finish")
        mark = len(ledger.finished)
        for controller in replicas.values():
            await controller.resync()

        async def covered() -> bool:
            return ledger.keys(mark) == set(KEYS)

        await wait_until(covered, what="one resync of every key")
        shares = {name: ledger.by(name, mark) for name in replicas}
        assert all(shares.values()), f"each replica should own a share: {shares}"
        assert sum(len(share) for share in shares.values()) == len(KEYS), "a key was resynced twice"
        for name, controller in replicas.items():
            assert shares[name] == {key for key in KEYS if controller.membership.owns(key)}
        assert ledger.overlaps == []
    finally:
        await cancel_and_wait(*tasks)
        for client in clients:
            await client.aclose()


async def _drained(controllers: list[Controller], ledger: Ledger) -> bool:
    """Nothing queued, waiting for a timer (a lease another replica held) or running."""

    def idle() -> bool:
        return not ledger.active and all(len(c.queue) == 0 and c.queue.pending_timers() == 0 for c in controllers)

    if not idle():
        return False
    await asyncio.sleep(0.3)
    return idle()


async def test_a_killed_replicas_keys_are_taken_over_by_the_survivor(stream_prefix: str, redis_client: Redis) -> None:
    # The killed replica (tests/runtime/toy_service/replica.py) never finishes a reconcile.
    # Short membership expiry and lease, because the test is about them (production: 15 s);
    # the production resync interval, so that only the rebalance can bring its keys back.
    options = ControllerOptions(lease_ttl=1.0, membership_heartbeat=1.0, membership_ttl=3.0)
    assert (DYING_REPLICA_OPTIONS.membership_heartbeat, DYING_REPLICA_OPTIONS.membership_ttl) == (1.0, 3.0)
    ledger = Ledger()
    survivor = keys_only_controller(
        CONTROLLER, ledger.reconciler("survivor"), KEYS, redis=redis_client, prefix=stream_prefix, options=options
    )
    async with running_replica(stream_prefix, *KEYS) as dying:
        task = None
        try:
            assert dying.stdout is not None
            stuck: set[str] = set()  # the keys its two workers hold (and never finish)
            while len(stuck) < DYING_REPLICA_OPTIONS.workers:
                line = (await dying.stdout.readline()).decode()
                assert line, "the replica ended before reconciling"
                if line.startswith("reconciling "):
                    stuck.add(line.split()[1])
            task = asyncio.create_task(survivor.run())
            await wait_until(lambda: _members_seen([survivor], 2), what="the survivor to see the other replica")
            mine = {key for key in KEYS if survivor.membership.owns(key)}
            assert mine and mine != set(KEYS)

            async def start_up_resync_done() -> bool:
                return ledger.keys() >= set(KEYS) - stuck

            await wait_until(start_up_resync_done, what="the survivor's first resync (every key it can lease)")
            mark = len(ledger.finished)
            await survivor.resync()  # what the periodic resync does

            async def own_share_done() -> bool:
                return ledger.keys(mark) >= mine - stuck

            await wait_until(own_share_done, what="the survivor to resync its share")
            # Sharing: while the other replica lives, the survivor leaves its keys alone.
            assert ledger.keys(mark) <= mine
            mark = len(ledger.finished)
            dying.send_signal(signal.SIGKILL)
            await dying.wait()

            async def taken_over() -> bool:
                return ledger.keys(mark) >= set(KEYS) - mine

            await wait_until(taken_over, what="the survivor to take over the killed replica's keys")
            assert survivor.membership.members == (survivor.membership.member,)
        finally:
            if task is not None:
                await cancel_and_wait(task)


async def test_a_rebalance_with_keys_in_flight_loses_none_and_never_runs_a_key_twice_at_once(
    stream_prefix: str, redis_client: Redis
) -> None:
    ledger = Ledger(pause=0.02)
    clients = {name: connect_redis(REDIS_URL) for name in "abc"}

    def replica(name: str, pause: float | None = None) -> Controller:
        return keys_only_controller(
            "rebalanced",
            ledger.reconciler(name, pause),
            KEYS,
            redis=clients[name],
            prefix=stream_prefix,
            options=PRODUCTION,
        )

    # b is slow, so that it still has keys in flight and queued when the others are done.
    replicas = {"a": replica("a"), "b": replica("b", pause=1.0), "c": replica("c")}
    tasks = {name: asyncio.create_task(controller.run()) for name, controller in replicas.items()}
    try:
        await wait_until(lambda: _members_seen(list(replicas.values()), 3), within=30, what="all three to meet")
        await wait_until(lambda: _drained(list(replicas.values()), ledger), within=60, what="start-up resyncs")
        shares = {name: {key for key in KEYS if c.membership.owns(key)} for name, c in replicas.items()}
        mark = len(ledger.finished)
        for controller in replicas.values():
            await controller.resync()

        async def others_done_and_b_inside_a_key() -> bool:
            done = all(ledger.by(name, mark) >= shares[name] for name in "ac")
            return done and bool(ledger.active & shares["b"])

        await wait_until(others_done_and_b_inside_a_key, what="a and c to finish their shares while b works")
        # Until the rebalance, a and c leave b's share alone.
        assert ledger.by("a", mark) | ledger.by("c", mark) == shares["a"] | shares["c"]
        # b leaves with keys in flight (cancelled mid-reconcile) and more waiting in its queue:
        # a and c must pick up all of its share, at their next heartbeat.
        await cancel_and_wait(tasks.pop("b"))
        survivors = [replicas["a"], replicas["c"]]

        async def none_lost() -> bool:
            return ledger.keys(mark) == set(KEYS)

        await wait_until(none_lost, within=30, what="every key reconciled after the rebalance")
        await wait_until(lambda: _members_seen(survivors, 2), within=30, what="a and c to see b gone")
        assert ledger.overlaps == []
    finally:
        await cancel_and_wait(*tasks.values())
        for client in clients.values():
            await client.aclose()


async def test_redis_unavailable_for_a_moment_keeps_the_shares_and_loses_nothing(
    stream_prefix: str, private_redis: PrivateRedis
) -> None:
    # Short membership expiry because the test is about it: Redis stays away longer than a
    # member's registration lasts, so when it returns (empty) every member has expired.
    options = ControllerOptions(membership_heartbeat=0.5, membership_ttl=1.5, lease_ttl=2.0)
    ledger = Ledger()
    clients = {name: connect_redis(private_redis.url) for name in "ab"}
    replicas = {
        name: keys_only_controller(
            "outage", ledger.reconciler(name), KEYS, redis=clients[name], prefix=stream_prefix, options=options
        )
        for name in "ab"
    }
    a, b = replicas["a"], replicas["b"]
    tasks = [asyncio.create_task(controller.run()) for controller in replicas.values()]
    try:
        await wait_until(lambda: _members_seen([a, b], 2), what="a and b to see each other")
        await wait_until(lambda: _drained([a, b], ledger), what="the start-up resyncs to finish")
        shares = {name: {key for key in KEYS if c.membership.owns(key)} for name, c in replicas.items()}
        assert shares["a"] and shares["b"] and shares["a"] | shares["b"] == set(KEYS)
        private_redis.stop()
        await asyncio.sleep(3 * options.membership_ttl)  # several failed heartbeats, past every expiry
        # Neither concluded it owns nothing (or everything): the last known members stand.
        for name, controller in replicas.items():
            assert {key for key in KEYS if controller.membership.owns(key)} == shares[name]
        mark = len(ledger.finished)
        for name, controller in replicas.items():
            await controller.resync()  # a periodic resync during the outage: its share, queued
            assert {key for key in KEYS if key in controller.queue} == shares[name]
        private_redis.start()

        async def none_lost() -> bool:
            return ledger.keys(mark) == set(KEYS)

        await wait_until(none_lost, within=60, what="every key reconciled once Redis is back")
        await wait_until(lambda: _members_seen([a, b], 2), what="the members to register again")
        assert ledger.overlaps == []
    finally:
        await cancel_and_wait(*tasks)
        for client in clients.values():
            await client.aclose()


@contextlib.asynccontextmanager
async def _two_settled_replicas(
    name: str, ledger: Ledger, prefix: str
) -> AsyncIterator[tuple[list[Controller], Redis]]:
    clients = [connect_redis(REDIS_URL) for _ in range(2)]
    replicas = [
        keys_only_controller(name, ledger.reconciler(who), KEYS, redis=client, prefix=prefix, options=PRODUCTION)
        for who, client in zip("ab", clients, strict=True)
    ]
    tasks = [asyncio.create_task(controller.run()) for controller in replicas]
    try:
        await wait_until(lambda: _members_seen(replicas, 2), within=30, what="a and b to see each other")
        await wait_until(lambda: _drained(replicas, ledger), what="the start-up resyncs to finish")
        yield replicas, clients[0]
    finally:
        await cancel_and_wait(*tasks)
        for client in clients:
            await client.aclose()


async def _each_key_once(ledger: Ledger, mark: int) -> None:
    async def every_share_resynced() -> bool:
        return ledger.keys(mark) == set(KEYS)

    await wait_until(every_share_resynced, within=30, what="both shares resynced")
    await asyncio.sleep(0.5)  # a duplicate would show up meanwhile
    assert len(ledger.finished) - mark == len(KEYS), "a key was resynced by both replicas"


async def test_a_lost_consumer_group_makes_each_replica_resync_its_share(stream_prefix: str) -> None:
    ledger = Ledger()
    async with _two_settled_replicas("regrouped", ledger, stream_prefix) as (_, redis):
        mark = len(ledger.finished)
        # The group vanishes (its stream deleted, Redis flushed): the consumers re-create it and
        # resync, each its own share.
        await redis.xgroup_destroy(f"{stream_prefix}none", "regrouped")
        await _each_key_once(ledger, mark)


async def test_a_resync_one_replica_requests_reaches_every_share(stream_prefix: str) -> None:
    # What a replica does after it alone saw the group lost (Redis restarted empty and the
    # others' reads found the group already re-created): the others resync at their next
    # heartbeat (production: within 5 s).
    ledger = Ledger()
    async with _two_settled_replicas("asked", ledger, stream_prefix) as (replicas, _):
        mark = len(ledger.finished)
        await replicas[0].resync()
        await replicas[0].membership.request_resync()
        await _each_key_once(ledger, mark)
