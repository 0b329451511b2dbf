"""Events and requeues go to the key's owner, and owned keys need no per-key lease (issue 14).

Real Redis, real PostgreSQL (for fenced status writes) and the real controller. Membership
heartbeats are short here (0.5 s heartbeat, 1.5 s expiry; production 5 s / 15 s) because every
test is about a view settling, changing or expiring; everything else is production settings.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from redis.asyncio import Redis

from tests.runtime.toy_service.crash_writer import standalone_repository
from threeport.common.v1alpha1 import change_event_pb2
from threeport.registry.v1alpha1 import application_pb2
from threeport_runtime.bus.streams import PAYLOAD_FIELD, connect_redis
from threeport_runtime.conditions import set_condition
from threeport_runtime.db.engine import Database
from threeport_runtime.db.fencing import current_fence
from threeport_runtime.db.repository import StaleFence
from threeport_runtime.reconcile.controller import Controller, ControllerOptions, Reconciler, Watch
from threeport_runtime.reconcile.inbox import Inboxes
from threeport_runtime.reconcile.lease import Leases
from threeport_runtime.reconcile.membership import Membership, owner_of
from threeport_runtime.reconcile.queue import NEW, NORMAL, WorkQueue
from threeport_runtime.reconcile.result import Result
from threeport_runtime.tasks import cancel_and_wait
from threeport_runtime.testing import REDIS_URL, wait_until

OPTIONS = ControllerOptions(membership_heartbeat=0.5, membership_ttl=1.5)
KEYS = [f"thing-{index}" for index in range(24)]


class Seen:
    """Each reconcile: (replica, key, the fence it ran under, the replica's view token then)."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, str, int | None, int | None]] = []

    def reconciler(self, replica: str, controller: list[Controller]) -> Reconciler:
        async def reconcile(name: str) -> Result | None:
            self.runs.append((replica, name, current_fence.get(), controller[0].membership.fence))
            return None

        return reconcile

    def since(self, mark: int) -> list[tuple[str, str, int | None, int | None]]:
        return self.runs[mark:]


def controller(
    name: str, seen: Seen, replica: str, *, redis: Redis, prefix: str, keys: Sequence[str] = KEYS
) -> Controller:
    """A controller of ``keys`` whose events come on ``{prefix}things``."""
    box: list[Controller] = []

    async def list_keys() -> AsyncIterator[str]:
        for key in keys:
            yield key

    made = Controller(
        name,
        seen.reconciler(replica, box),
        redis=redis,
        stream_prefix=prefix,
        watches=[Watch(f"{prefix}things")],
        list_keys=list_keys,
        options=OPTIONS,
    )
    box.append(made)
    return made


async def publish(redis: Redis, prefix: str, keys: Sequence[str]) -> None:
    for key in keys:
        event = change_event_pb2.ChangeEvent(name=key, change=change_event_pb2.CHANGE_TYPE_UPDATED)
        await redis.xadd(f"{prefix}things", {PAYLOAD_FIELD: event.SerializeToString()})


async def application_in(db: Database, stream_prefix: str, name: str) -> Any:
    """A repository of applications with one created as ``name``, for fenced status writes."""
    repository: Any = standalone_repository(db, stream_prefix)
    app = application_pb2.Application()
    app.spec.components["web"].image = "nginx:1"
    await repository.create(app, name=name)
    return repository


async def _settled(controllers: Sequence[Controller], members: int) -> bool:
    return all(c.membership.settled() and len(c.membership.members) == members for c in controllers)


async def _holds(condition: bool) -> bool:
    return condition


async def _idle(controllers: Sequence[Controller]) -> bool:
    def idle() -> bool:
        return all(len(c.queue) == 0 and c.queue.pending_timers() == 0 for c in controllers)

    if not idle():
        return False
    await asyncio.sleep(0.3)
    return idle()


async def test_settled_replicas_reconcile_each_event_once_at_its_owner_without_a_lease(
    stream_prefix: str, redis_client: Redis
) -> None:
    seen = Seen()
    clients = [connect_redis(REDIS_URL) for _ in range(3)]
    replicas = {
        who: controller("routed", seen, who, redis=client, prefix=stream_prefix)
        for who, client in zip("abc", clients, strict=True)
    }
    tasks = [asyncio.create_task(c.run()) for c in replicas.values()]
    try:
        await wait_until(lambda: _settled(list(replicas.values()), 3), within=30, what="three settled members")
        await wait_until(lambda: _idle(list(replicas.values())), what="the start-up resyncs to finish")
        mark = len(seen.runs)
        # Every event reaches one replica's consumer; most of them not the key's owner.
        await publish(redis_client, stream_prefix, KEYS)

        async def every_key_once() -> bool:
            return {key for _, key, _, _ in seen.since(mark)} == set(KEYS)

        await wait_until(every_key_once, what="each event's key reconciled")
        await wait_until(lambda: _idle(list(replicas.values())), what="nothing more to do")
        runs = seen.since(mark)
        assert len(runs) == len(KEYS), f"a key was reconciled twice: {runs}"
        for who, key, fence, view_fence in runs:
            assert replicas[who].membership.owns(key), f"{key} reconciled by {who}, not its owner"
            # Fenced by the token drawn with the view, not a lease's (each lease draws a new one).
            assert fence is not None and fence == view_fence
        assert {who for who, _, _, _ in runs} == set("abc")
    finally:
        await cancel_and_wait(*tasks)
        for client in clients:
            await client.aclose()


async def test_a_single_replica_reconciles_events_and_requeues_as_before(
    stream_prefix: str, redis_client: Redis
) -> None:
    # The default deployment (what `tptctl up` runs): until its view settles its reconciles
    # take the lease as they always did; then they run under the view's token, with no Redis call.
    seen = Seen()
    requeued: dict[str, int] = {}
    only = controller("alone", seen, "only", redis=redis_client, prefix=stream_prefix)
    base = only._reconcile

    async def reconcile_and_requeue_once(name: str) -> Result | None:
        await base(name)
        requeued[name] = requeued.get(name, 0) + 1
        return Result(requeue_after=0.1) if requeued[name] == 1 else None

    only._reconcile = reconcile_and_requeue_once
    task = asyncio.create_task(only.run())
    try:

        async def started() -> bool:
            return len(seen.runs) >= len(KEYS)

        await wait_until(started, what="the start-up resync")
        leased = [fence for _, _, fence, view in seen.runs[: len(KEYS)] if fence != view]
        assert leased, "before the view settles, reconciles take the lease"
        await wait_until(lambda: _settled([only], 1), what="the view to settle")
        await wait_until(lambda: _idle([only]), what="the start-up resync and its requeues to finish")
        mark = len(seen.runs)
        requeued.clear()
        await publish(redis_client, stream_prefix, KEYS[:4])

        async def events_and_requeues_done() -> bool:
            return all(requeued.get(key) == 2 for key in KEYS[:4])

        await wait_until(events_and_requeues_done, what="each event reconciled, then its requeue")
        runs = seen.since(mark)
        assert sorted(key for _, key, _, _ in runs) == sorted(KEYS[:4] * 2)
        assert all(fence == view and fence is not None for _, _, fence, view in runs)
        # Nothing went through an inbox: its own is never written to.
        assert await redis_client.exists(only.inboxes.stream(only.membership.member)) == 0
    finally:
        await cancel_and_wait(task)


async def test_a_token_drawn_with_a_view_is_below_every_token_drawn_once_a_member_joined(
    stream_prefix: str, redis_client: Redis
) -> None:
    def member(name: str) -> Membership:
        return Membership(
            redis_client,
            key=f"{stream_prefix}m:members",
            resync_key=f"{stream_prefix}m:resync",
            fence_key=f"{stream_prefix}m:fence",
            member=name,
        )

    old, new = member("old"), member("new")
    assert await old.beat() and old.members == ("old",)
    stale = old.fence
    assert await new.beat() and new.members == ("new", "old")
    assert new.fence is not None and stale is not None and new.fence > stale > 10**15
    assert await old.beat() and list(old.members) == ["new", "old"]
    # The old member's next token comes with the view that has the newcomer in it: the one the
    # newcomer drew, as nothing drew since (replicas that read the same members share it).
    assert old.fence == new.fence


async def test_heartbeats_draw_a_token_only_when_the_members_changed_or_something_drew_since(
    stream_prefix: str, redis_client: Redis
) -> None:
    fence_key = f"{stream_prefix}m:fence"

    def member(name: str) -> Membership:
        return Membership(
            redis_client,
            key=f"{stream_prefix}m:members",
            resync_key=f"{stream_prefix}m:resync",
            fence_key=fence_key,
            member=name,
        )

    async def counter() -> int:
        return int(await redis_client.get(fence_key))

    alone = member("alone")
    assert await alone.beat()
    first = alone.fence
    assert first is not None and first == await counter()
    for _ in range(10):  # a lone replica, idle: its heartbeats write no token
        assert await alone.beat()
    assert alone.fence == first and await counter() == first
    # A member joins: the next heartbeat of each draws (or shares) a token above the old view's.
    joined = member("joined")
    assert await joined.beat() and await alone.beat()
    assert alone.members == ("alone", "joined") and alone.fence == joined.fence
    assert joined.fence is not None and joined.fence > first
    with_two = joined.fence
    for _ in range(3):
        assert await alone.beat() and await joined.beat()
    assert alone.fence == joined.fence == with_two == await counter()
    # A lease (e.g. of a replica whose view is unsettled): the next heartbeat's token is above it,
    # or the owner's settled writes would stay refused where the lease holder wrote.
    lease = await Leases(redis_client, namespace=f"{stream_prefix}m:").acquire("some-key")
    assert lease is not None and lease > with_two
    assert await alone.beat() and alone.fence is not None and alone.fence > lease
    # A member that joins and leaves between two heartbeats of another: the members look
    # unchanged to it, but its token rises above the visitor's.
    visitor = member("visitor")
    assert await visitor.beat() and visitor.fence is not None
    await visitor.leave()
    before = alone.fence
    assert await alone.beat() and alone.members == ("alone", "joined")
    assert alone.fence > visitor.fence > before


async def test_a_settled_replica_writes_the_statuses_its_unsettled_start_wrote_under_leases(
    stream_prefix: str, db: Database
) -> None:
    # Its start-up reconciles run under leases, drawn after its first heartbeat's token: once
    # settled, its own view's token must be above them or its writes would all be refused.
    name = "projects/acme/applications/restarted"
    repository = await application_in(db, stream_prefix, name)
    outcomes: list[tuple[str, int | None, int | None]] = []
    seen = Seen()
    only = controller("restarted", seen, "only", redis=connect_redis(REDIS_URL), prefix=stream_prefix, keys=[name])

    async def reconcile(key: str) -> Result | None:
        fence, view = current_fence.get(), only.membership.fence
        try:
            await repository.update_status(key, lambda resource: set_condition(
                resource.conditions, "Ready", True, reason="Converged", message="by only",
                observed_generation=resource.generation,
            ))
        except StaleFence:
            outcomes.append(("stale", fence, view))
            raise
        outcomes.append(("written", fence, view))
        return None

    async def list_after_the_first_heartbeat() -> AsyncIterator[str]:
        # The usual order (listing reads the database): the leases are drawn after the view's token.
        await wait_until(lambda: _holds(only.membership.fence is not None), what="the first heartbeat")
        yield name

    only._reconcile = reconcile
    only._list_keys = list_after_the_first_heartbeat
    task = asyncio.create_task(only.run())
    try:
        await wait_until(lambda: _settled([only], 1), what="the view to settle")
        await wait_until(lambda: _idle([only]), what="the start-up resync to finish")
        assert outcomes and all(fence != view for _, fence, view in outcomes)  # under leases
        mark = len(outcomes)
        only.enqueue(name)

        async def reconciled() -> bool:
            return len(outcomes) > mark

        await wait_until(reconciled, what="the settled reconcile")
        outcome, fence, view = outcomes[mark]
        assert (outcome, fence) == ("written", view)
    finally:
        await cancel_and_wait(task)
        await only.leases._redis.aclose()


async def test_an_owned_key_whose_status_a_newer_token_wrote_is_reconciled_again_after_a_heartbeat(
    stream_prefix: str, db: Database
) -> None:
    # Another replica, its view unsettled, reconciled the key under a lease and wrote its status:
    # the owner's view token is below that lease until its next heartbeat, so its write is
    # refused. The owner must try again then, not drop the key until the next full resync.
    # A heartbeat may land between that write and the owner's first reconcile (it draws a token
    # above the lease, so the owner rightly writes at once); then the scenario did not happen
    # and is set up again with a fresh key.
    outcomes: dict[str, list[tuple[str, int | None]]] = {}
    only = controller("refused", Seen(), "only", redis=connect_redis(REDIS_URL), prefix=stream_prefix, keys=[])

    async def reconcile(key: str) -> Result | None:
        fence = current_fence.get()
        try:
            await repository.update_status(key, lambda resource: set_condition(
                resource.conditions, "Ready", True, reason="Converged", message=f"under {fence}",
                observed_generation=resource.generation,
            ))
        except StaleFence:
            outcomes[key].append(("stale", fence))
            raise
        outcomes[key].append(("written", fence))
        return None

    repository: Any = standalone_repository(db, stream_prefix)
    only._reconcile = reconcile
    task = asyncio.create_task(only.run())
    try:
        await wait_until(lambda: _settled([only], 1), what="the view to settle")
        for attempt in range(5):
            name = f"projects/acme/applications/refused-{attempt}"
            await application_in(db, stream_prefix, name)
            seen = outcomes[name] = []
            lease = await only.leases.acquire(name)  # the other replica's lease: same counter
            assert lease is not None and only.membership.fence is not None and lease > only.membership.fence
            token = current_fence.set(lease)
            try:
                await repository.update_status(name, lambda resource: set_condition(
                    resource.conditions, "Ready", False, reason="Progressing", message="by the other replica",
                    observed_generation=resource.generation,
                ))
            finally:
                current_fence.reset(token)
            await only.leases.release(name, lease)
            only.enqueue(name)

            async def written() -> bool:
                return any(outcome == "written" for outcome, _ in seen)  # noqa: B023 - awaited here

            await wait_until(written, within=10 * OPTIONS.membership_heartbeat, what="the owner's write")
            # Whatever the timing: refused only below the lease, written only above it.
            assert all(fence is not None for _, fence in seen)
            assert all((fence or 0) < lease for outcome, fence in seen if outcome == "stale")
            assert all((fence or 0) > lease for outcome, fence in seen if outcome == "written")
            stored = await repository.get(name)
            assert [c.reason for c in stored.conditions if c.type == "Ready"] == ["Converged"]
            if seen[0][0] == "stale":
                return
        raise AssertionError(f"a heartbeat came between the write and the reconcile every time: {outcomes}")
    finally:
        await cancel_and_wait(task)
        await only.leases._redis.aclose()


async def test_a_replica_with_a_stale_view_cannot_overwrite_the_new_owners_status(
    stream_prefix: str, db: Database
) -> None:
    # a owns everything alone and settled; it is inside a reconcile of NAME (paused, as a
    # replica stalls) when b joins and comes to own NAME. b writes; a's write, under the token of
    # its old view, is refused.
    clients = [connect_redis(REDIS_URL) for _ in range(2)]
    seen = Seen()
    a = controller("fenced", seen, "a", redis=clients[0], prefix=stream_prefix, keys=[])
    b = controller("fenced", seen, "b", redis=clients[1], prefix=stream_prefix, keys=[])
    members = tuple(sorted((a.membership.member, b.membership.member)))
    name = next(
        f"projects/acme/applications/k{index}"
        for index in range(100)
        if owner_of(f"projects/acme/applications/k{index}", members) == b.membership.member
    )
    repository = await application_in(db, stream_prefix, name)
    inside = asyncio.Event()
    resume = asyncio.Event()
    outcomes: dict[str, str] = {}

    def writer(who: str, pause: bool) -> Reconciler:
        async def reconcile(key: str) -> Result | None:
            seen.runs.append((who, key, current_fence.get(), None))
            if pause:
                inside.set()
                await resume.wait()

            def mark(resource: Any) -> None:
                set_condition(
                    resource.conditions, "Ready", True, reason="Converged", message=f"by {who}",
                    observed_generation=resource.generation,
                )

            try:
                await repository.update_status(key, mark)
            except StaleFence:
                outcomes[who] = "stale"
                raise
            outcomes[who] = "written"
            return None

        return reconcile

    a._reconcile = writer("a", pause=True)
    b._reconcile = writer("b", pause=False)
    tasks = [asyncio.create_task(a.run())]
    try:
        await wait_until(lambda: _settled([a], 1), what="a to settle alone")
        a.enqueue(name)
        await inside.wait()
        assert seen.runs[-1][2] == a.membership.fence  # a runs it under its view's token, no lease
        tasks.append(asyncio.create_task(b.run()))
        b.enqueue(name)

        async def b_wrote() -> bool:
            return outcomes.get("b") == "written"

        await wait_until(b_wrote, what="the new owner to write")
        resume.set()

        async def a_refused() -> bool:
            return "a" in outcomes

        await wait_until(a_refused, what="the stale replica's write")
        assert outcomes["a"] == "stale"
        stored = await repository.get(name)
        assert [c.message for c in stored.conditions if c.type == "Ready"] == ["by b"]
    finally:
        resume.set()
        await cancel_and_wait(*tasks)
        for client in clients:
            await client.aclose()


async def test_events_sent_to_a_replica_that_died_before_reading_them_are_reconciled_by_the_survivor(
    stream_prefix: str, redis_client: Redis
) -> None:
    # The dead member registered and beat like a replica, then stopped (killed: no leave) and
    # never read its inbox. The controller lists no keys, so only the events can bring the
    # dead member's keys back: the rebalance has nothing to queue.
    seen = Seen()
    survivor = controller("orphaned", seen, "survivor", redis=redis_client, prefix=stream_prefix, keys=[])
    dead = Membership(
        redis_client,
        key=survivor.membership.key,
        resync_key=survivor.membership.resync_key,
        fence_key=survivor.membership.fence_key,
        member="dead-replica",
        heartbeat=OPTIONS.membership_heartbeat,
        ttl=OPTIONS.membership_ttl,
    )

    async def beating() -> None:
        while True:
            await dead.beat()
            await asyncio.sleep(dead.heartbeat)

    heart = asyncio.create_task(beating())
    task = asyncio.create_task(survivor.run())
    try:

        async def two_members() -> bool:
            return len(survivor.membership.members) == 2

        await wait_until(two_members, what="the survivor to see the other member")
        theirs = [key for key in KEYS if not survivor.membership.owns(key)]
        mine = [key for key in KEYS if survivor.membership.owns(key)]
        assert theirs and mine
        await publish(redis_client, stream_prefix, KEYS)

        async def sent() -> bool:
            return await redis_client.xlen(survivor.inboxes.stream("dead-replica")) == len(theirs)

        await wait_until(sent, what="the other member's keys sent to its inbox")

        async def mine_reconciled() -> bool:
            return {key for _, key, _, _ in seen.runs} >= set(mine)

        # Its own keys may still be in its queue when the last key reached the inbox.
        await wait_until(mine_reconciled, what="the survivor to reconcile its own keys")
        assert {key for _, key, _, _ in seen.runs} == set(mine)
        await cancel_and_wait(heart)  # killed

        async def all_reconciled() -> bool:
            return {key for _, key, _, _ in seen.runs} == set(KEYS)

        await wait_until(all_reconciled, what="the survivor to reconcile the dead member's events")
        assert survivor.membership.members == (survivor.membership.member,)
    finally:
        await cancel_and_wait(heart, task)


async def test_a_timer_for_a_key_another_replica_now_owns_is_dropped_when_it_fires() -> None:
    mine = {"kept"}
    queue = WorkQueue(keep=mine.__contains__)
    queue.add_after("moved", 0.01)
    queue.add_rate_limited("moved")  # a retry after a failure (its backoff is dropped too)
    queue.add_after("kept", 0.2)  # due after every timer of "moved"
    assert await queue.get() == "kept"
    assert "moved" not in queue and queue.failures("moved") == 0 and queue.pending_timers() == 0


async def test_an_inbox_entry_keeps_the_priority_its_sender_queued_the_key_at(
    stream_prefix: str, redis_client: Redis
) -> None:
    """A created resource's key routed to its owner is queued there at ``NEW`` as it would have
    been here (keys sent at the normal priority carry none; a malformed one reads as normal)."""
    inboxes = Inboxes(redis_client, prefix=f"{stream_prefix}inbox:", member="owner", ttl=15.0, block_ms=100)
    await inboxes.send("owner", ["created-1", "created-2"], priority=NEW)
    await inboxes.send("owner", ["changed"], "00-trace-span-01")
    await redis_client.xadd(inboxes.stream("owner"), {"key": "odd", "priority": "high"})
    received: list[tuple[str, str, int]] = []
    reader = asyncio.create_task(inboxes.run(lambda key, trace, priority: received.append((key, trace, priority))))
    try:
        await wait_until(lambda: _holds(len(received) == 4), what="the four entries read")
    finally:
        await cancel_and_wait(reader)
    assert received == [("created-1", "", NEW), ("created-2", "", NEW), ("changed", "00-trace-span-01", NORMAL),
                        ("odd", "", NORMAL)]
