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
from threeport_runtime.reconcile.queue import WorkQueue


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
    for variable, value in (
        ("THREEPORT_DATABASE_URL", "mysql://h/db"),
        ("THREEPORT_SERVICE_CREDENTIAL", "short"),
        ("THREEPORT_RESYNC_INTERVAL_SECONDS", "soon"),
        ("THREEPORT_LISTEN_ADDRESS", "nowhere"),
    ):
        with pytest.raises(ConfigError, match=variable):
            Settings.from_env("toy", {**good, variable: value})
    with pytest.raises(ConfigError, match="THREEPORT_DATABASE_URL"):
        Settings.from_env("toy", {})
