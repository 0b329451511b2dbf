"""Pure pieces of the runtime: work queue, key ownership, filters, page tokens, conditions,
settings."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.dialects import postgresql

from tests.runtime.toy_service.tables import ApplicationRow
from threeport.common.v1alpha1 import condition_pb2, state_pb2
from threeport_runtime.conditions import derive_state, set_condition
from threeport_runtime.config import ConfigError, Settings
from threeport_runtime.db.filters import compile_filter
from threeport_runtime.db.page_tokens import PageTokenCodec
from threeport_runtime.errors import InvalidArgument
from threeport_runtime.reconcile.membership import owner_of
from threeport_runtime.reconcile.queue import LOW, NEW, NEW_SHARE, WorkQueue


async def test_queue_dedupes_and_requeues_a_key_changed_while_processing() -> None:
    queue = WorkQueue()
    queue.add("a")
    queue.add("a")
    queue.add("b")
    assert len(queue) == 2
    first = await queue.get()
    queue.add(first)  # changed while being processed
    assert len(queue) == 1
    second = await queue.get()
    assert second != first
    queue.done(first)
    assert await queue.get() == first
    queue.add_after("later", 0.05)
    assert await asyncio.wait_for(queue.get(), 5) == "later"


async def drain(queue: WorkQueue) -> list[str]:
    """Every key ready now, in the order workers would take them (each marked done)."""
    taken = []
    while len(queue):
        key = await queue.get()
        queue.done(key)
        taken.append(key)
    return taken


async def test_event_keys_run_before_resync_keys_and_each_priority_in_order() -> None:
    queue = WorkQueue()
    for key in ("r1", "r2", "r3"):
        queue.add(key, LOW)  # a resync
    queue.add("e1")  # events, after the resync queued its keys
    queue.add("e2")
    assert len(queue) == 5
    assert await drain(queue) == ["e1", "e2", "r1", "r2", "r3"]


async def test_a_created_resource_waits_behind_work_under_way_and_ahead_of_a_resync() -> None:
    """A burst of creations converges oldest first: each created key's first pass (``NEW``)
    waits while keys of resources already under way (events, requeues: ``NORMAL``) are ready,
    and goes before a resync's keys."""
    queue = WorkQueue()
    queue.add("r1", LOW)
    for key in ("c1", "c2", "c3"):
        queue.add(key, NEW)
    queue.add("c1")  # its claim was bound: now under way
    queue.add("e1")
    queue.add("c2", LOW)  # a resync listing it changes nothing
    assert await drain(queue) == ["c1", "e1", "c2", "c3", "r1"]


async def test_created_keys_get_a_share_of_the_picks_while_work_under_way_never_runs_out() -> None:
    """Keys under way that are ready again each time a worker looks (slow passes re-checked every
    couple of seconds) do not starve a created key: one pick in ``NEW_SHARE`` is a created key's."""
    queue = WorkQueue()
    queue.add("created-1", NEW)
    queue.add("created-2", NEW)
    busy = [f"busy-{index}" for index in range(3)]
    for key in busy:
        queue.add(key)
    taken = []
    for _ in range(2 * NEW_SHARE):
        key = await queue.get()
        taken.append(key)
        queue.done(key)
        if key in busy:
            queue.add(key)  # ready again before the next pick
    assert taken[NEW_SHARE - 1] == "created-1" and taken[2 * NEW_SHARE - 1] == "created-2", taken
    assert all(key in busy for index, key in enumerate(taken) if (index + 1) % NEW_SHARE), taken


async def test_an_event_moves_a_resync_key_up_once_and_a_resync_never_moves_a_key_down() -> None:
    queue = WorkQueue()
    for key in ("r1", "r2", "r3"):
        queue.add(key, LOW)
    queue.add("e1")
    queue.add("r3")  # an event for a key the resync queued: up, behind the events before it
    queue.add("r3")
    queue.add("e1", LOW)  # the next resync lists a key an event queued: it stays where it is
    assert len(queue) == 4  # still each key once
    assert await drain(queue) == ["e1", "r3", "r1", "r2"]
    assert len(queue) == 0 and "r3" not in queue


async def test_a_key_changed_while_processing_is_queued_again_once_at_its_highest_priority() -> None:
    queue = WorkQueue()
    queue.add("busy", LOW)
    assert await queue.get() == "busy"
    queue.add("busy", LOW)  # resynced while it runs ...
    queue.add("busy")  # ... and an event for it
    queue.add("busy", LOW)
    queue.add("other", LOW)
    assert len(queue) == 1  # only "other": the busy key waits for its worker to finish
    queue.done("busy")
    assert len(queue) == 2
    assert await drain(queue) == ["busy", "other"]
    # Resynced (only) while it runs: queued again at low priority, behind an event.
    queue.add("busy", LOW)
    assert await queue.get() == "busy"
    queue.add("busy", LOW)
    queue.add("event")
    queue.done("busy")
    assert await drain(queue) == ["event", "busy"]


async def test_a_timer_queues_its_key_ahead_of_resync_keys() -> None:
    queue = WorkQueue()
    queue.add_after("requeued", 0.05)
    for index in range(100):
        queue.add(f"r{index}", LOW)
    first = await queue.get()  # a resync key, taken before the timer fires
    queue.add_after("requeued", 3600)  # a later timer for the same key is dropped (earliest wins)
    assert queue.pending_timers() == 1
    await asyncio.sleep(0.1)
    queue.done(first)
    assert await queue.get() == "requeued"


async def test_a_key_keeps_only_its_earliest_timer() -> None:
    queue = WorkQueue()
    # Steady requeues of one key (as every reconcile returning requeue_after does) ...
    for delay in (0.05, 0.1, 0.15, 0.2):
        queue.add_after("k", delay)
    assert queue.pending_timers() == 1
    assert await asyncio.wait_for(queue.get(), 5) == "k"
    queue.done("k")
    # ... fire once, not once per requeue: the sentinel, due after all of them, comes next.
    queue.add_after("sentinel", 0.3)
    assert await asyncio.wait_for(queue.get(), 5) == "sentinel"
    queue.done("sentinel")
    assert queue.pending_timers() == 0


async def test_an_earlier_timer_replaces_a_later_one() -> None:
    queue = WorkQueue()
    queue.add_after("k", 3600)
    queue.add_after("k", 0.05)
    assert await asyncio.wait_for(queue.get(), 5) == "k"
    queue.done("k")
    assert queue.pending_timers() == 0  # the hour-long timer is gone too


def test_backoff_grows_per_key_and_resets() -> None:
    async def run() -> None:
        queue = WorkQueue(base_delay=0.1, max_delay=1.0)
        delays = [queue.add_rate_limited("k") for _ in range(6)]
        assert delays[0] <= 0.1 and delays[-1] > 0.4 and all(d <= 1.0 for d in delays)
        queue.forget("k")
        assert queue.add_rate_limited("k") <= 0.1

    asyncio.run(run())


def sql(filter_text: str) -> str:
    clause = compile_filter(filter_text, ApplicationRow, {"spec.description": "spec.description"})
    return str(clause.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


def test_a_member_joining_or_leaving_moves_only_its_own_share_of_the_keys() -> None:
    keys = [f"projects/acme/deployments/d{index}" for index in range(3000)]
    three = ("host-1-aaaaaa", "host-2-bbbbbb", "host-3-cccccc")
    owners = {key: owner_of(key, three) for key in keys}
    shares = {member: sum(1 for owner in owners.values() if owner == member) for member in three}
    assert all(800 < share < 1200 for share in shares.values()), shares  # about a third each
    # host-2 leaves: only its keys move, and they spread over the two others.
    two = ("host-1-aaaaaa", "host-3-cccccc")
    moved = {key: owner_of(key, two) for key in keys if owner_of(key, two) != owners[key]}
    assert {owners[key] for key in moved} == {"host-2-bbbbbb"}
    assert len(moved) == shares["host-2-bbbbbb"] and set(moved.values()) == set(two)
    # A fourth joins: keys move only to it. The order members are listed in does not matter.
    four = ("host-4-dddddd", *reversed(three))
    assert {owner_of(key, four) for key in keys if owner_of(key, four) != owners[key]} == {"host-4-dddddd"}


def test_filter_subset_compiles_and_rejects_unknown_fields() -> None:
    compiled = sql('labels.team = "payments" AND state = READY AND name = "projects/acme/*" AND labels:tier')
    assert "labels ->> 'team'" in compiled and "'READY'" in compiled and "LIKE 'projects/acme/%%'" in compiled
    assert "?" in compiled or "has_key" in compiled.lower()
    assert "spec ->> 'description'" in sql('spec.description != "x"')
    for bad in ("colour = red", "name =", "state = SLEEPY", 'name = "a" OR name = "b"'):
        with pytest.raises(InvalidArgument) as raised:
            sql(bad)
        assert raised.value.reason == "INVALID_FILTER"


def test_page_tokens_are_signed_and_bound_to_the_query() -> None:
    codec = PageTokenCodec(b"0123456789abcdef")
    token = codec.encode("projects/acme/applications/b", "q1")
    assert codec.decode(token, "q1") == "projects/acme/applications/b"
    for tampered, query in ((token[:-2] + "xx", "q1"), (token, "q2"), ("!!", "q1")):
        with pytest.raises(InvalidArgument) as raised:
            codec.decode(tampered, query)
        assert raised.value.reason == "INVALID_PAGE_TOKEN"


def test_transition_time_moves_only_when_the_status_flips() -> None:
    resource: list[condition_pb2.Condition] = []
    set_condition(resource, "Ready", False, reason="Waiting", observed_generation=1)
    first = resource[0].last_transition_time.ToDatetime()
    assert set_condition(resource, "Ready", False, reason="StillWaiting", observed_generation=1)
    assert resource[0].last_transition_time.ToDatetime() == first
    set_condition(resource, "Ready", True, reason="Done", observed_generation=1)
    assert derive_state(resource, 1, deleting=False) == state_pb2.STATE_READY
    assert derive_state(resource, 2, deleting=False) == state_pb2.STATE_PENDING
    assert derive_state(resource, 2, deleting=True) == state_pb2.STATE_DELETING


def test_settings_name_the_bad_variable() -> None:
    good = {
        "THREEPORT_DATABASE_URL": "postgresql+psycopg://u@h/db",
        "THREEPORT_SERVICE_CREDENTIAL": "x" * 20,
    }
    assert Settings.from_env("toy", good).service_name == "toy"
    tuned = Settings.from_env("toy", {**good, "THREEPORT_RECONCILE_TIMEOUT_SECONDS": "90",
                                      "THREEPORT_RECONCILE_WORKERS": "8"})
    assert (tuned.reconcile_timeout_seconds, tuned.reconcile_workers) == (90, 8)
    # The pool follows the workers unless set: one connection each, and room for the rest.
    assert (Settings.from_env("toy", good).pool_size, tuned.pool_size) == (18, 10)
    assert Settings.from_env("toy", {**good, "THREEPORT_DATABASE_POOL_SIZE": "40"}).pool_size == 40
    assert tuned.with_overrides(reconcile_workers=32).pool_size == 34  # follows the workers unless set
    for variable, value in (
        ("THREEPORT_DATABASE_URL", "mysql://h/db"),
        ("THREEPORT_SERVICE_CREDENTIAL", "short"),
        ("THREEPORT_RESYNC_INTERVAL_SECONDS", "soon"),
        ("THREEPORT_RECONCILE_TIMEOUT_SECONDS", "0"),
        ("THREEPORT_RECONCILE_WORKERS", "0"),
        ("THREEPORT_RECONCILE_WORKERS", "2.5"),
        ("THREEPORT_DATABASE_POOL_SIZE", "0"),
        ("THREEPORT_DATABASE_POOL_SIZE", "many"),
        ("THREEPORT_LISTEN_ADDRESS", "nowhere"),
    ):
        with pytest.raises(ConfigError, match=variable):
            Settings.from_env("toy", {**good, variable: value})
    with pytest.raises(ConfigError, match="THREEPORT_DATABASE_URL"):
        Settings.from_env("toy", {})
