"""``RemoteCache`` / ``CacheFeed``: a bounded read-through cache of another service's resources,
forgotten by that service's change events before their keys are queued, cleared by a resync,
and heard by every replica (real Redis, the real controller)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from google.protobuf.message import Message
from redis.asyncio import Redis

from tests.runtime.conftest import FAST_CONTROLLERS
from threeport.common.v1alpha1 import change_event_pb2
from threeport.sdk import UnavailableError
from threeport_runtime.bus.streams import PAYLOAD_FIELD, connect_redis, resource_stream
from threeport_runtime.reconcile.controller import Controller, Watch
from threeport_runtime.reconcile.result import Result
from threeport_runtime.reconcile.spec import ControllerSpec, For, Owns
from threeport_runtime.remote_cache import CacheFeed, RemoteCache
from threeport_runtime.tasks import cancel_and_wait
from threeport_runtime.testing import PrivateRedis, wait_until

STATUS = frozenset({change_event_pb2.CHANGE_TYPE_STATUS_CHANGED})


def reader(value: str, calls: list[str]) -> object:
    async def load() -> str:
        calls.append(value)
        return value

    return load


async def test_reads_through_and_keeps_at_most_the_limit() -> None:
    cache: RemoteCache[str] = RemoteCache("things", max_entries=2)
    calls: list[str] = []
    assert await cache.get("a", reader("A", calls)) == "A"  # type: ignore[arg-type]
    assert await cache.get("a", reader("A2", calls)) == "A"  # type: ignore[arg-type]
    await cache.get("b", reader("B", calls))  # type: ignore[arg-type]
    await cache.get("a", reader("A3", calls))  # type: ignore[arg-type]  # a is now the most recent
    await cache.get("c", reader("C", calls))  # type: ignore[arg-type]  # evicts b, the least recent
    assert len(cache) == 2 and "b" not in cache and "a" in cache and "c" in cache
    assert calls == ["A", "B", "C"]
    assert (cache.hits, cache.misses) == (2, 3)
    with pytest.raises(ValueError):
        RemoteCache("none", max_entries=0)


async def test_a_refresh_asks_the_owner_and_replaces_the_copy() -> None:
    cache: RemoteCache[str] = RemoteCache("things", max_entries=2)
    calls: list[str] = []
    await cache.get("a", reader("A", calls))  # type: ignore[arg-type]
    assert await cache.refresh("a", reader("A2", calls)) == "A2"  # type: ignore[arg-type]
    assert await cache.get("a", reader("A3", calls)) == "A2"  # type: ignore[arg-type]
    assert calls == ["A", "A2"]


async def test_an_entry_knows_whether_it_was_read_from_its_owner_since_a_moment() -> None:
    """What lets a reconcile skip confirming copies it read from the owner during its own pass:
    a read or refresh counts from when it was stored; a kept, filled or forgotten entry does not."""
    cache: RemoteCache[str] = RemoteCache("things", max_entries=2)
    calls: list[str] = []
    await cache.get("old", reader("OLD", calls))  # type: ignore[arg-type]
    filling = cache.begin_fill()
    cache.fill(filling, [("filled", "F")])
    cache.end_fill(filling)
    mark = time.time()
    await cache.get("old", reader("OLD2", calls))  # type: ignore[arg-type]  # kept: read before the mark
    assert cache.read_since("old", mark) is None and cache.read_since("filled", mark) is None
    await cache.refresh("old", reader("OLD3", calls))  # type: ignore[arg-type]
    assert cache.read_since("old", mark) == "OLD3"
    cache.forget("old")
    assert cache.read_since("old", mark) is None and cache.read_since("never", mark) is None
    await cache.get("new", reader("NEW", calls))  # type: ignore[arg-type]
    assert cache.read_since("new", mark) == "NEW"
    cache.clear()
    assert cache.read_since("new", mark) is None


async def test_errors_and_not_found_are_never_cached() -> None:
    cache: RemoteCache[str] = RemoteCache("things", max_entries=10)
    attempts = 0

    async def missing() -> str:
        nonlocal attempts
        attempts += 1
        raise LookupError("not found")

    for _ in range(2):
        with pytest.raises(LookupError):
            await cache.get("a", missing)
    assert attempts == 2 and len(cache) == 0


async def test_a_read_in_flight_when_its_entry_is_forgotten_is_not_kept() -> None:
    """The answer may predate the change that forgot it: returned once, never stored."""
    cache: RemoteCache[str] = RemoteCache("things", max_entries=10)
    for forget in (lambda: cache.forget("a"), cache.clear, lambda: cache.forget_where(lambda k: k == "a")):
        answered = asyncio.Event()

        async def slow(answered: asyncio.Event = answered) -> str:
            await answered.wait()
            return "old"

        read = asyncio.create_task(cache.get("a", slow))
        await asyncio.sleep(0)
        forget()
        answered.set()
        assert await read == "old"
        assert "a" not in cache
    # Unrelated keys' reads are kept.
    await cache.get("b", reader("B", []))  # type: ignore[arg-type]
    cache.forget("a")
    assert "b" in cache


async def publish(redis: Redis, stream: str, name: str, change: int, owner: str = "") -> None:
    event = change_event_pb2.ChangeEvent(name=name, change=change, owner=owner)  # type: ignore[arg-type]
    await redis.xadd(stream, {PAYLOAD_FIELD: event.SerializeToString()})


async def test_an_event_forgets_before_its_keys_are_queued_and_a_resync_clears(
    stream_prefix: str, redis_client: Redis
) -> None:
    """Owned and watched keys are mapped (and reconciled) only after the event forgot the entry;
    events the key mappings ignore still forget; a full resync clears before it queues."""
    claims: RemoteCache[str] = RemoteCache("claims", max_entries=10)
    apps: RemoteCache[str] = RemoteCache("apps", max_entries=10)
    deployments = resource_stream(stream_prefix, "test.Deployment")
    claim_stream = resource_stream(stream_prefix, "test.Claim")
    app_stream = resource_stream(stream_prefix, "test.Application")
    seen_while_mapping: list[bool] = []
    reconciled: list[tuple[str, bool, bool]] = []
    resynced: list[bool] = []

    async def app_keys(event: change_event_pb2.ChangeEvent) -> list[str]:
        seen_while_mapping.append(event.name in apps)
        return ["projects/p/deployments/by-app"]

    async def list_keys() -> AsyncIterator[str]:
        resynced.append(len(apps) + len(claims) == 0)
        yield "projects/p/deployments/listed"

    async def reconcile(name: str) -> Result | None:
        reconciled.append((name, "claims/c" in claims, "apps/a" in apps))
        return None

    feed = CacheFeed()
    feed.track(claims, apps)
    feed.on(claim_stream, lambda event: claims.forget(event.name))
    feed.on(app_stream, lambda event: apps.forget(event.name))
    spec = feed.wire(ControllerSpec(
        "cached", for_=For(deployments, list_keys=list_keys),
        owns=[Owns(claim_stream, owner="projects/*/deployments/*", changes=STATUS)],
        watches=[Watch(app_stream, keys=app_keys, changes=frozenset({change_event_pb2.CHANGE_TYPE_UPDATED}))],
    ))
    controller = Controller(spec.name, reconcile, redis=redis_client, stream_prefix=stream_prefix,
                            watches=spec.all_watches(), list_keys=spec.for_.list_keys, options=FAST_CONTROLLERS)
    await controller.consumer.ensure_groups()
    task = asyncio.create_task(controller.run())
    try:
        await wait_until(lambda: _async(bool(resynced)), what="the first resync")
        assert resynced == [True]
        await claims.get("claims/c", reader("old claim", []))  # type: ignore[arg-type]
        await apps.get("apps/a", reader("old app", []))  # type: ignore[arg-type]
        await publish(redis_client, claim_stream, "claims/c", change_event_pb2.CHANGE_TYPE_STATUS_CHANGED,
                      owner="projects/p/deployments/owner")
        await publish(redis_client, app_stream, "apps/a", change_event_pb2.CHANGE_TYPE_UPDATED)
        await wait_until(lambda: _async(len(reconciled) >= 3), what="both events' keys to be reconciled")
        assert seen_while_mapping == [False]
        # The claim's owner never saw the old claim, the app's deployment never the old app.
        assert [held_claim for name, held_claim, _ in reconciled if name.endswith("/owner")] == [False]
        assert [held_app for name, _, held_app in reconciled if name.endswith("/by-app")] == [False]

        # A deletion wakes no one here, yet the copy goes.
        await apps.get("apps/a", reader("app", []))  # type: ignore[arg-type]
        await publish(redis_client, app_stream, "apps/a", change_event_pb2.CHANGE_TYPE_DELETED)
        await wait_until(lambda: _async("apps/a" not in apps), what="the deleted app to be forgotten")

        await apps.get("apps/a", reader("app", []))  # type: ignore[arg-type]
        await controller.resync()
        assert resynced == [True, True] and len(apps) == 0
        # Stopped once idle: a worker stopped in the middle of a lease call may outlive the test.
        await wait_until(lambda: _async([r[0] for r in reconciled].count("projects/p/deployments/listed") == 2
                                        and len(controller.queue) == 0 and controller.queue.pending_timers() == 0),
                         what="the resynced key to be reconciled")
    finally:
        await cancel_and_wait(task)


async def _async(value: bool) -> bool:
    return value


async def test_every_replica_hears_every_event(stream_prefix: str, redis_client: Redis) -> None:
    """A consumer group gives an event to one replica; each replica's feed reads them all."""
    stream = resource_stream(stream_prefix, "test.Application")
    replicas = [RemoteCache[str]("apps", max_entries=10) for _ in range(2)]
    feeds = []
    for cache in replicas:
        feed = CacheFeed()
        feed.track(cache)
        feed.on(stream, lambda event, cache=cache: cache.forget(event.name))  # type: ignore[misc]
        feeds.append(feed)
    tasks = [asyncio.create_task(feed.follow(redis_client, block_ms=100)) for feed in feeds]
    try:
        await asyncio.sleep(0.3)  # both are reading
        for cache in replicas:
            await cache.get("apps/a", reader("old", []))  # type: ignore[arg-type]
            await cache.get("apps/b", reader("kept", []))  # type: ignore[arg-type]
        await redis_client.xadd(stream, {PAYLOAD_FIELD: b"not an event"})  # skipped, not fatal
        await publish(redis_client, stream, "apps/a", change_event_pb2.CHANGE_TYPE_UPDATED)
        await wait_until(lambda: _async(all("apps/a" not in c for c in replicas)), what="both replicas to forget")
        assert all("apps/b" in c for c in replicas)
    finally:
        await cancel_and_wait(*tasks)


async def test_losing_the_feed_forgets_everything(private_redis: PrivateRedis) -> None:
    """Events may go by unseen while Redis is away: nothing cached is trusted after."""
    client = connect_redis(private_redis.url)
    cache: RemoteCache[str] = RemoteCache("apps", max_entries=10)
    feed = CacheFeed()
    feed.track(cache)
    feed.on("apps", lambda event: cache.forget(event.name))
    task = asyncio.create_task(feed.follow(client, block_ms=100, retry_after=0.05))
    try:
        await asyncio.sleep(0.3)
        await cache.get("apps/a", reader("a", []))  # type: ignore[arg-type]
        private_redis.stop()
        await wait_until(lambda: _async(len(cache) == 0), what="the cache to be cleared")
        private_redis.start()
    finally:
        await cancel_and_wait(task)
        await client.aclose()


def listed(**versions: str) -> list[change_event_pb2.ChangeEvent]:
    """A listing: each resource's name and content (any message with a name will do)."""
    return [change_event_pb2.ChangeEvent(name=name, owner=content) for name, content in versions.items()]


async def fill(cache: RemoteCache[str], *keys: str) -> None:
    for key in keys:
        await cache.get(key, reader(key, []))  # type: ignore[arg-type]


async def test_a_resync_forgets_only_what_the_owners_listing_says_changed() -> None:
    """Unchanged since the previous resync's listing: kept. Changed, gone, or held but never
    listed (created and deleted between two resyncs): forgotten, as their events would have."""
    apps: RemoteCache[str] = RemoteCache("apps", max_entries=10)
    listing = listed(a="1", b="1", c="1")
    lists = 0

    async def list_all() -> AsyncIterator[change_event_pb2.ChangeEvent]:
        nonlocal lists
        lists += 1
        for message in listing:
            yield message

    feed = CacheFeed()
    feed.track(apps)
    feed.on("apps", lambda event: apps.forget(event.name))
    feed.relist("apps", list_all, apps.cached_keys)  # type: ignore[arg-type]
    await fill(apps, "a", "b", "c")
    await feed.check()
    assert len(apps) == 0  # nothing to compare with yet: what was read before is not trusted

    await fill(apps, "a", "b", "c")
    await feed.check()
    assert apps.cached_keys() == ["a", "b", "c"] and lists == 2

    await fill(apps, "x")  # listed by neither resync
    listing = listed(a="2", b="1", d="1")
    await feed.check()
    assert apps.cached_keys() == ["b"]


async def test_a_resync_that_cannot_check_clears() -> None:
    """A List that fails, a stream nobody lists, or more changes than are worth forgetting one
    by one: everything goes (and a failed listing leaves nothing to compare the next with)."""
    apps: RemoteCache[str] = RemoteCache("apps", max_entries=10)
    listing = listed(a="1", b="1")
    failing = False

    async def list_all() -> AsyncIterator[change_event_pb2.ChangeEvent]:
        for message in listing:
            if failing:
                raise ConnectionError("the owner is away")
            yield message

    feed = CacheFeed(max_forgets=1)
    feed.track(apps)
    feed.on("apps", lambda event: apps.forget(event.name))
    feed.relist("apps", list_all, apps.cached_keys)  # type: ignore[arg-type]
    await feed.check()
    await fill(apps, "a", "b")
    failing = True
    await feed.check()
    assert len(apps) == 0
    failing = False
    await fill(apps, "a", "b")
    await feed.check()
    assert len(apps) == 0  # the failed listing left nothing to compare with
    await fill(apps, "a", "b")
    listing = listed(a="2", b="2")  # two changes, one is worth forgetting
    await feed.check()
    assert len(apps) == 0

    feed.max_forgets = 10
    await fill(apps, "a", "b")
    await feed.check()
    assert len(apps) == 2
    feed.on("claims", lambda event: None)  # a stream without a listing
    await feed.check()
    assert len(apps) == 0


async def test_a_stream_trimmed_past_what_was_read_forgets_everything(
    stream_prefix: str, redis_client: Redis
) -> None:
    """Entries dropped before this replica read them (trimmed, or the stream deleted) may have
    been changes to anything it holds."""
    stream = resource_stream(stream_prefix, "test.Application")
    cache: RemoteCache[str] = RemoteCache("apps", max_entries=10)
    feed = CacheFeed()
    feed.track(cache)
    feed.on(stream, lambda event: cache.forget(event.name))
    await publish(redis_client, stream, "apps/start", change_event_pb2.CHANGE_TYPE_UPDATED)
    task = asyncio.create_task(feed.follow(redis_client, block_ms=100))
    try:
        await asyncio.sleep(0.3)  # reading, from the newest entry on
        for lose in ("trim", "delete"):
            await fill(cache, "apps/a", "apps/b", "apps/c")
            async with redis_client.pipeline(transaction=True) as pipeline:  # nothing is read in between
                changed = change_event_pb2.ChangeEvent(name="apps/a", change=change_event_pb2.CHANGE_TYPE_UPDATED)
                pipeline.xadd(stream, {PAYLOAD_FIELD: changed.SerializeToString()})
                if lose == "trim":
                    pipeline.xtrim(stream, maxlen=0)
                else:
                    pipeline.delete(stream)
                later = change_event_pb2.ChangeEvent(name="apps/c", change=change_event_pb2.CHANGE_TYPE_UPDATED)
                pipeline.xadd(stream, {PAYLOAD_FIELD: later.SerializeToString()})
                await pipeline.execute()
            await wait_until(lambda: _async("apps/c" not in cache), what=f"the event after the {lose} to be read")
            assert "apps/a" not in cache and "apps/b" not in cache, lose
        # Read on from there: an ordinary event forgets only its own entry.
        await fill(cache, "apps/a", "apps/b")
        await publish(redis_client, stream, "apps/a", change_event_pb2.CHANGE_TYPE_UPDATED)
        await wait_until(lambda: _async("apps/a" not in cache), what="the next event to be read")
        assert "apps/b" in cache
    finally:
        await cancel_and_wait(task)


def lister(listing: list[change_event_pb2.ChangeEvent]) -> object:
    async def list_all() -> AsyncIterator[change_event_pb2.ChangeEvent]:
        for message in listing:
            yield message

    return list_all


async def test_a_check_waits_for_an_owner_that_cannot_be_reached_yet() -> None:
    """The services of a plane start together: an owner that does not listen yet (UNAVAILABLE)
    is asked again with backoff, and the check fills from its listing once it answers, rather
    than clearing and leaving every reconcile to read one by one. An owner that stays away past
    ``owner_patience`` is given up on, as any failed listing is: everything is cleared."""
    apps: RemoteCache[change_event_pb2.ChangeEvent] = RemoteCache("apps", max_entries=10)
    away = 2
    attempts = 0

    async def list_all() -> AsyncIterator[change_event_pb2.ChangeEvent]:
        nonlocal attempts
        attempts += 1
        if attempts <= away:
            raise UnavailableError("UNAVAILABLE: failed to connect to all addresses")
        for message in listed(a="1", b="1"):
            yield message

    feed = CacheFeed()
    feed.track(apps)
    feed.on("apps", lambda event: apps.forget(event.name))
    feed.relist("apps", list_all, apps.cached_keys, fills=apps)  # type: ignore[arg-type]
    await feed.check()
    assert attempts == 3 and sorted(apps.cached_keys()) == ["a", "b"]

    feed.owner_patience, away, attempts = 1.0, 1_000, 0
    started = time.monotonic()
    await feed.check()
    # Asked again after a pause (0.25-0.5 s), then given up on: the next pause would end past 1 s.
    assert len(apps) == 0 and attempts == 2 and time.monotonic() - started >= 0.25


async def test_a_resync_fills_a_cache_with_what_it_listed() -> None:
    """The first resync (nothing to compare with) clears, then keeps every listed message; a
    later one forgets what changed and keeps its listed copy instead. Entries the cache holds
    keep theirs, and filled entries are the first to go when a read needs room."""
    apps: RemoteCache[change_event_pb2.ChangeEvent] = RemoteCache("apps", max_entries=10)
    listing = listed(a="1", b="1")
    feed = CacheFeed()
    feed.track(apps)
    feed.on("apps", lambda event: apps.forget(event.name))
    feed.relist("apps", lister(listing), apps.cached_keys, fills=apps)  # type: ignore[arg-type]
    await apps.get("stale", reader("held before any listing", []))  # type: ignore[arg-type]
    await feed.check()
    assert {key: _owner(apps, key) for key in apps.cached_keys()} == {"a": "1", "b": "1"}
    calls: list[str] = []
    assert (await apps.get("a", reader("read", calls))).owner == "1" and calls == []  # type: ignore[arg-type, attr-defined]

    listing[:] = listed(a="1", b="2", c="1")
    await feed.check()
    assert {key: _owner(apps, key) for key in apps.cached_keys()} == {"a": "1", "b": "2", "c": "1"}
    assert apps.cached_keys()[-1] == "a"  # the one a reconcile read is the most recent


async def test_an_event_while_the_listing_is_under_way_wins() -> None:
    """A listed copy read before a change whose event arrives before the listing ends is not
    kept: the event's forget (or clear, or forget_where) stands, as for a read in flight."""
    for forget in ("forget", "forget_where", "clear"):
        apps: RemoteCache[change_event_pb2.ChangeEvent] = RemoteCache("apps", max_entries=10)
        listed_b, go_on = asyncio.Event(), asyncio.Event()

        async def list_all(listed_b: asyncio.Event = listed_b,
                           go_on: asyncio.Event = go_on) -> AsyncIterator[change_event_pb2.ChangeEvent]:
            for message in listed(a="1", b="old"):
                yield message
            listed_b.set()
            await go_on.wait()  # the listing's last page is still on its way
            for message in listed(c="1"):
                yield message

        feed = CacheFeed()
        feed.track(apps)
        feed.on("apps", lambda event, apps=apps: apps.forget(event.name))  # type: ignore[misc]
        feed.relist("apps", list_all, apps.cached_keys, fills=apps)
        check = asyncio.create_task(feed.check())
        await listed_b.wait()
        if forget == "forget":
            feed.handle("apps", change_event_pb2.ChangeEvent(name="b", change=change_event_pb2.CHANGE_TYPE_UPDATED))
        elif forget == "forget_where":
            apps.forget_where(lambda key: key == "b")
        else:
            apps.clear()
        go_on.set()
        await check
        assert sorted(apps.cached_keys()) == ([] if forget == "clear" else ["a", "c"]), forget
        # The next listing is after the change: it fills b.
        await feed.check()
        assert "b" in apps, forget


def _owner(cache: RemoteCache[change_event_pb2.ChangeEvent], key: str) -> str:
    held = cache.peek(key)
    assert held is not None
    return held.owner


async def test_a_message_is_kept_serialized_and_each_reader_gets_its_own_copy() -> None:
    """Messages are held as bytes (a parsed one costs ~8x the memory): what a read returns
    equals what was stored, whether it came from a load or a fill, and changing it changes
    nothing cached."""
    apps: RemoteCache[change_event_pb2.ChangeEvent] = RemoteCache("apps", max_entries=10)
    loaded = change_event_pb2.ChangeEvent(name="a", owner="o", generation=3)
    first = await apps.get("a", reader(change_event_pb2.ChangeEvent(name="a", owner="o", generation=3), []))  # type: ignore[arg-type]
    assert isinstance(apps._entries["a"], bytes | tuple) and not isinstance(apps._entries["a"], Message)
    first.owner = "changed by the reader that loaded it"
    calls: list[str] = []
    again = await apps.get("a", reader("not read", calls))  # type: ignore[arg-type]
    assert again == loaded and again is not first and calls == []
    filling = apps.begin_fill()
    apps.fill(filling, [("b", change_event_pb2.ChangeEvent(name="b", generation=7))])
    apps.end_fill(filling)
    assert apps.peek("b") == change_event_pb2.ChangeEvent(name="b", generation=7)
    assert apps.cached_values()[-1] == loaded  # "a" was read last


async def test_messages_like_the_first_are_kept_deflated() -> None:
    """Messages of one sort share most of their bytes (field tags, condition reasons, names): each
    is kept deflated against the first the cache held, a fraction of its serialized size."""
    claims: RemoteCache[change_event_pb2.ChangeEvent] = RemoteCache("claims", max_entries=100)

    def claim(index: int) -> change_event_pb2.ChangeEvent:
        return change_event_pb2.ChangeEvent(
            name=f"projects/bench/cluster-claims/shop-{index:05d}-prod", generation=index,
            owner=f"projects/bench/deployments/shop-{index:05d}-prod on clusters/bench-{index % 100:03d}")

    filling = claims.begin_fill()
    claims.fill(filling, [(f"c{index}", claim(index)) for index in range(50)])
    claims.end_fill(filling)
    for index in range(1, 50):
        entry = claims._entries[f"c{index}"]
        assert len(entry.packed) * 2 < claim(index).ByteSize()
        assert claims.peek(f"c{index}") == claim(index)


async def test_a_fill_never_evicts() -> None:
    """A cache at its limit keeps what reads put there; a fill takes only the room left, and
    what it filled goes first when a read needs room."""
    apps: RemoteCache[change_event_pb2.ChangeEvent] = RemoteCache("apps", max_entries=3)
    filling = apps.begin_fill()
    apps.end_fill(filling)
    await apps.get("hot", reader(change_event_pb2.ChangeEvent(name="hot"), []))  # type: ignore[arg-type]
    stored = apps.fill(filling, ((m.name, m) for m in listed(a="1", b="1", c="1", hot="listed")))
    assert stored == 2 and sorted(apps.cached_keys()) == ["a", "b", "hot"]
    assert _owner(apps, "hot") == ""  # held entries keep the copy a read put there
    assert apps.fill(filling, ((m.name, m) for m in listed(d="1"))) == 0 and len(apps) == 3
    await apps.get("new", reader(change_event_pb2.ChangeEvent(name="new"), []))  # type: ignore[arg-type]
    assert "hot" in apps and "new" in apps and len(apps) == 3


async def test_a_resync_at_start_fills_after_the_feed_listens(stream_prefix: str, redis_client: Redis) -> None:
    """At a service's start its feed and its first resync begin together; the feed's start
    clears (nothing read before it listened is trusted), so the resync lists only once it
    listens, and what it fills stays."""
    stream = resource_stream(stream_prefix, "test.Application")
    apps: RemoteCache[change_event_pb2.ChangeEvent] = RemoteCache("apps", max_entries=10)
    feed = CacheFeed()
    feed.track(apps)
    feed.on(stream, lambda event: apps.forget(event.name))
    feed.relist(stream, lister(listed(a="1")), apps.cached_keys, fills=apps)  # type: ignore[arg-type]
    follow = asyncio.create_task(feed.follow(redis_client, block_ms=100))
    try:
        await asyncio.create_task(feed.check())
        await feed._started.wait()  # the feed listens (and has cleared what came before)
        assert apps.cached_keys() == ["a"]
        await publish(redis_client, stream, "a", change_event_pb2.CHANGE_TYPE_UPDATED)
        await wait_until(lambda: _async("a" not in apps), what="the event to forget the filled entry")
    finally:
        await cancel_and_wait(follow)


async def test_a_resync_prefills_what_a_cache_is_missing_and_an_event_meanwhile_wins() -> None:
    """A cache of answers its owner computes (no listing holds them) is filled after the check
    with what a bulk read finds for the keys it is missing: held keys are not asked for, a key
    forgotten while the bulk read is under way is not filled, and a bulk read that fails fills
    nothing, forgets nothing, and leaves the check done."""
    latest: RemoteCache[change_event_pb2.ChangeEvent] = RemoteCache("latest", max_entries=10)
    answers = {key: change_event_pb2.ChangeEvent(name=key, owner="bulk") for key in ("a", "b", "c")}
    asked: list[list[str]] = []
    halfway, go_on = asyncio.Event(), asyncio.Event()
    pause = False
    failing = False

    async def read_missing(cache: RemoteCache[change_event_pb2.ChangeEvent],
                           ) -> AsyncIterator[tuple[str, change_event_pb2.ChangeEvent]]:
        missing = [key for key in answers if key not in cache]
        asked.append(missing)
        for key in missing:
            if failing:
                raise ConnectionError("the owner is away")
            yield key, answers[key]
            if pause:
                halfway.set()
                await go_on.wait()

    feed = CacheFeed()
    feed.track(latest)
    feed.on("apps", lambda event: latest.forget(event.name))
    feed.relist("apps", lister(listed(a="1")), lambda: ())  # type: ignore[arg-type]
    feed.prefill(latest, read_missing)  # type: ignore[arg-type]
    await latest.get("b", reader(change_event_pb2.ChangeEvent(name="b", owner="read"), []))  # type: ignore[arg-type]
    await feed.check()  # the first check clears (nothing to compare with), then prefills
    assert asked == [["a", "b", "c"]] and {key: _owner(latest, key) for key in latest.cached_keys()} == {
        "a": "bulk", "b": "bulk", "c": "bulk"}

    latest.forget("a")
    await latest.get("b", reader(change_event_pb2.ChangeEvent(name="b", owner="read"), []))  # type: ignore[arg-type]
    await feed.check()  # nothing changed: only the missing key is asked for
    assert asked[-1] == ["a"] and _owner(latest, "a") == "bulk" and _owner(latest, "b") == "bulk"

    latest.forget("a")
    latest.forget("c")
    pause = True
    check = asyncio.create_task(feed.check())
    await halfway.wait()  # "a" was read; the event forgetting it arrives before the read ends
    feed.handle("apps", change_event_pb2.ChangeEvent(name="a", change=change_event_pb2.CHANGE_TYPE_UPDATED))
    go_on.set()
    await check
    assert asked[-1] == ["a", "c"] and sorted(latest.cached_keys()) == ["b", "c"]

    pause, failing = False, True
    await feed.check()
    assert asked[-1] == ["a"] and sorted(latest.cached_keys()) == ["b", "c"]
