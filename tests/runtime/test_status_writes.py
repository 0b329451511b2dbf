"""A steady reconcile's status and finalizer calls against real PostgreSQL: when nothing changes
they cost one plain read (none when the pass passes on what it read), with no transaction, no row
lock and no write; a change still writes, and never over a newer lease holder's status."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import event, select

from tests.runtime.toy_service.crash_writer import standalone_repository
from tests.runtime.toy_service.tables import SCHEMA
from threeport.common.v1alpha1 import change_event_pb2
from threeport.registry.v1alpha1 import application_pb2
from threeport_runtime.conditions import set_condition
from threeport_runtime.db.engine import Database
from threeport_runtime.db.fencing import current_fence
from threeport_runtime.db.repository import ResourceRepository, StaleFence

NAME = "projects/acme/applications/steady"
FINALIZER = "test.threeport.io/cleanup"


@dataclass
class Statements:
    """Every statement the engine sent, and whether it ran inside a transaction."""

    seen: list[tuple[str, bool]] = field(default_factory=list)

    def record(self, connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        in_transaction = not connection.connection.dbapi_connection.autocommit
        self.seen.append((" ".join(statement.split()), in_transaction))

    def record_plain_read(self, statement: str) -> None:
        self.seen.append((" ".join(statement.split()), False))  # autocommit, always

    def locking(self) -> list[str]:
        return [s for s, _ in self.seen if "FOR UPDATE" in s or s.startswith(("UPDATE", "INSERT", "DELETE"))]

    def in_transactions(self) -> list[str]:
        return [s for s, inside in self.seen if inside]


@pytest.fixture
async def repository(
    migrated_database: str, stream_prefix: str
) -> AsyncIterator[tuple[ResourceRepository[Any, Any], Statements]]:
    db = Database(migrated_database)
    repo: ResourceRepository[Any, Any] = standalone_repository(db, stream_prefix)
    app = application_pb2.Application()
    app.spec.components["web"].image = "nginx:1"
    await repo.create(app, name=NAME)
    statements = Statements()
    event.listen(db.engine.sync_engine, "before_cursor_execute", statements.record)
    db.plain_reads.observers.append(statements.record_plain_read)
    try:
        yield repo, statements
    finally:
        await db.dispose()


def ready(resource: Any) -> None:
    set_condition(resource.conditions, "Ready", True, reason="Converged", observed_generation=resource.generation)


async def test_no_op_status_and_finalizer_calls_only_read(
    repository: tuple[ResourceRepository[Any, Any], Statements],
) -> None:
    repo, statements = repository
    assert await repo.add_finalizer(NAME, FINALIZER)
    written = await repo.update_status(NAME, ready)
    assert written is not None and written.conditions[0].reason == "Converged"
    assert statements.locking(), "the first calls change something and must write"

    statements.seen.clear()
    for _ in range(3):  # a steady reconcile, three times over
        assert await repo.add_finalizer(NAME, FINALIZER)
        unchanged = await repo.update_status(NAME, ready)
        assert unchanged is not None and unchanged.etag == written.etag
    assert len(statements.seen) == 6, statements.seen  # one read per call
    assert statements.locking() == []
    assert statements.in_transactions() == []  # no BEGIN/COMMIT around them either

    # A real change still takes the lock and writes.
    statements.seen.clear()
    changed = await repo.update_status(
        NAME, lambda r: set_condition(r.conditions, "Ready", False, reason="Drifted", observed_generation=1)
    )
    assert changed is not None and changed.conditions[0].reason == "Drifted" and changed.etag != written.etag
    assert any("FOR UPDATE" in s for s in statements.locking())
    # And a resource that is gone is still reported as such.
    assert await repo.update_status("projects/acme/applications/none", ready) is None
    assert not await repo.add_finalizer("projects/acme/applications/none", FINALIZER)


def fenced(token: int) -> Any:
    """Runs what follows as a reconcile under lease token ``token`` does (the controller sets it)."""
    return current_fence.set(token)


async def test_a_pass_that_read_the_resource_changes_nothing_without_a_statement(
    repository: tuple[ResourceRepository[Any, Any], Statements],
) -> None:
    """``update_status(read=...)``: a reconcile compares what it observed with what it read at its
    start, so a steady pass sends nothing; a change is written, with its event, by one statement
    in autocommit (no lock held across round trips) as long as the row is as the pass read it."""
    repo, statements = repository
    await repo.update_status(NAME, ready)
    stored = await repo.read(NAME)
    assert stored.finalizers == () and stored.message.conditions[0].reason == "Converged"
    statements.seen.clear()
    for _ in range(3):
        assert await repo.update_status(NAME, ready, read=stored) is stored.message
    assert statements.seen == []

    def drifted(resource: Any) -> None:
        set_condition(resource.conditions, "Ready", False, reason="Drifted", observed_generation=1)

    changed = await repo.update_status(NAME, drifted, read=stored)
    assert changed is not None and changed.conditions[0].reason == "Drifted"
    assert len(statements.seen) == 1 and statements.in_transactions() == [], statements.seen
    assert statements.seen[0][0].startswith("WITH updated AS (UPDATE")
    stored_now = await repo.get(NAME)
    assert stored_now == changed and stored_now.etag != stored.message.etag
    assert stored_now.update_time.ToDatetime() > stored.message.update_time.ToDatetime()
    assert stored_now.state == changed.state and stored_now.reconciling == changed.reconciling
    # Its change event was written by the same statement, for the relay to publish.
    newest = await repo._db.fetch(select(SCHEMA.outbox).order_by(SCHEMA.outbox.c.id.desc()).limit(1))
    event = change_event_pb2.ChangeEvent.FromString(newest[0].payload)
    assert (event.name, event.change, event.uid, event.generation) == (
        NAME, change_event_pb2.CHANGE_TYPE_STATUS_CHANGED, changed.uid, changed.generation)
    assert newest[0].resource == NAME and newest[0].stream == repo.stream


async def test_a_write_since_the_pass_read_is_never_overwritten(
    repository: tuple[ResourceRepository[Any, Any], Statements],
) -> None:
    """A status write from what a pass read is kept only if nobody wrote the row since: when
    someone did, nothing of the pass's copy is written; the change is decided again on the
    locked row, so the other writer's status survives next to the pass's condition."""
    repo, statements = repository
    await repo.update_status(NAME, ready)
    stored = await repo.read(NAME)

    def progressed(resource: Any) -> None:
        resource.status.latest_builds["web"] = "b41"  # a field only the other writer sets

    def drifted(resource: Any) -> None:
        set_condition(resource.conditions, "Ready", False, reason="Drifted", observed_generation=1)

    meanwhile = await repo.update_status(NAME, progressed)
    assert meanwhile is not None and meanwhile.status.latest_builds["web"] == "b41"
    statements.seen.clear()
    written = await repo.update_status(NAME, drifted, read=stored)
    assert written is not None and written.conditions[0].reason == "Drifted"
    assert written.status.latest_builds["web"] == "b41"  # not the pass's older copy of the status
    assert statements.seen[0][0].startswith("WITH updated AS (UPDATE")  # tried, matched nothing
    assert any("FOR UPDATE" in s for s in statements.locking())  # then decided on the locked row
    assert await repo.get(NAME) == written


async def test_an_older_lease_never_overwrites_a_newer_ones_status(
    repository: tuple[ResourceRepository[Any, Any], Statements],
) -> None:
    """Replica A reads under token 5; replica B (token 7) writes meanwhile. A's change is refused
    although its read saw an older fence (the lock re-reads it), and so is its no-op once it
    reads the newer fence."""
    repo, _statements = repository
    token = fenced(5)
    try:
        stale = await repo.read(NAME)
    finally:
        current_fence.reset(token)
    token = fenced(7)
    try:
        newer = await repo.update_status(NAME, ready)
    finally:
        current_fence.reset(token)
    assert newer is not None

    def drifted(resource: Any) -> None:
        set_condition(resource.conditions, "Ready", False, reason="Drifted", observed_generation=1)

    token = fenced(5)
    try:
        with pytest.raises(StaleFence):
            await repo.update_status(NAME, drifted, read=stale)
        with pytest.raises(StaleFence):
            await repo.update_status(NAME, ready, read=await repo.read(NAME))
    finally:
        current_fence.reset(token)
    assert (await repo.get(NAME)).conditions[0].reason == "Converged"


async def test_a_repository_may_create_resources_holding_their_controller_s_finalizer(
    migrated_database: str, stream_prefix: str
) -> None:
    """``finalizers_on_create``: the resource holds the finalizer from its first row, so the
    controller's first pass takes no lock to add it, and a deletion waits for that controller."""
    db = Database(migrated_database)
    repo: ResourceRepository[Any, Any] = standalone_repository(db, stream_prefix, finalizers_on_create=(FINALIZER,))
    statements = Statements()
    event.listen(db.engine.sync_engine, "before_cursor_execute", statements.record)
    db.plain_reads.observers.append(statements.record_plain_read)
    try:
        app = application_pb2.Application()
        app.spec.components["web"].image = "nginx:1"
        name = "projects/acme/applications/held"
        await repo.create(app, name=name)
        stored = await repo.read(name)
        assert stored.finalizers == (FINALIZER,)
        statements.seen.clear()
        assert await repo.add_finalizer(name, FINALIZER)  # what a first pass that did not read asks
        assert statements.locking() == []

        deleting = await repo.delete(name)
        assert deleting.HasField("delete_time"), "the finalizer holds the row until its controller lets go"
        await repo.remove_finalizer(name, FINALIZER)
        assert await repo.find(name) is None
    finally:
        await db.dispose()
