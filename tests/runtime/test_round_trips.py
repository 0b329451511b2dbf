"""Round trips to PostgreSQL per repository call, counted on the wire (libpq's protocol trace),
and what happens to pooled connections the server closed.

A session must not pay a round trip to check its connection first (``pool_pre_ping``): a steady
reconcile's finalizer check is one plain read, so one round trip, and so is a get. Connections the server closed
(a restart, ``pg_terminate_backend``), the engine's and the plain reads' (``PlainRead``), are still
replaced before any statement runs, so the next call after a restart works.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tests.runtime.toy_service.crash_writer import standalone_repository
from tests.runtime.toy_service.tables import SCHEMA
from tests.sql_counter import SqlCounter
from threeport.common.v1alpha1 import change_event_pb2
from threeport.registry.v1alpha1 import application_pb2
from threeport_runtime.bus.outbox import Outbox
from threeport_runtime.conditions import set_condition
from threeport_runtime.db.engine import Database, libpq_url
from threeport_runtime.db.page_tokens import PageTokenCodec
from threeport_runtime.db.plain_reads import PlainRead
from threeport_runtime.db.repository import ResourceRepository
from threeport_runtime.db.schema import ResourceRow, ServiceSchema
from threeport_runtime.errors import AlreadyExists

NAME = "projects/acme/applications/counted"
BACKEND_PID = PlainRead(select(func.pg_backend_pid().label("pid")))
FINALIZER = "test.threeport.io/cleanup"


@dataclass
class WireTrace:
    """Every protocol message of the engine's connections, as libpq traces them."""

    path: Path
    start: int = 0

    def round_trips(self) -> int:
        """Round trips since ``reset``: each ends with the server's ReadyForQuery."""
        return sum("\tB\t" in line and "\tReadyForQuery" in line for line in self._lines())

    def reset(self) -> None:
        self.start = self.path.stat().st_size

    def _lines(self) -> Iterator[str]:
        with self.path.open("rb") as trace:
            trace.seek(self.start)
            yield from trace.read().decode(errors="replace").splitlines()


@pytest.fixture
async def traced(
    migrated_database: str, stream_prefix: str
) -> AsyncIterator[tuple[Database, ResourceRepository[Any, Any], WireTrace]]:
    db = Database(migrated_database, pool_size=1, max_overflow=0)
    with tempfile.NamedTemporaryFile(prefix="tp-libpq-trace-") as file:

        def trace_connection(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.driver_connection.pgconn.trace(file.fileno())

        event.listen(db.engine.sync_engine, "connect", trace_connection)
        db.plain_reads.connected.append(lambda connection: connection.pgconn.trace(file.fileno()))
        repo: ResourceRepository[Any, Any] = standalone_repository(db, stream_prefix)
        app = application_pb2.Application()
        app.spec.components["web"].image = "nginx:1"
        await repo.create(app, name=NAME)
        await warm_up(repo)
        wire = WireTrace(Path(file.name))
        wire.reset()
        try:
            yield db, repo, wire
        finally:
            await db.dispose()


async def warm_up(repo: ResourceRepository[Any, Any]) -> None:
    """Adds the finalizer, then runs the reads often enough that psycopg has prepared them (its ``prepare_threshold``,
    one extra round trip per statement and connection, once)."""
    await repo.add_finalizer(NAME, FINALIZER)
    for _ in range(6):
        await repo.add_finalizer(NAME, FINALIZER)
        await repo.get(NAME)


async def test_a_steady_finalizer_check_is_one_round_trip(
    traced: tuple[Database, ResourceRepository[Any, Any], WireTrace],
) -> None:
    _db, repo, wire = traced
    for _ in range(5):
        assert await repo.add_finalizer(NAME, FINALIZER)
    assert wire.round_trips() == 5  # one plain read each; no ping before it


async def test_a_get_costs_its_statement_and_transaction_only(
    traced: tuple[Database, ResourceRepository[Any, Any], WireTrace],
) -> None:
    _db, repo, wire = traced
    assert (await repo.get(NAME)).name == NAME
    # One statement, in autocommit: no BEGIN and ROLLBACK around it, nothing to check the connection.
    assert wire.round_trips() == 1


async def test_a_find_without_a_filter_is_the_built_once_read_by_name(
    traced: tuple[Database, ResourceRepository[Any, Any], WireTrace],
) -> None:
    # A watch of every resource finds each changed one: no statement built per change.
    db, repo, wire = traced
    sent: list[str] = []
    db.plain_reads.observers.append(sent.append)
    assert (await repo.find(NAME)).name == NAME
    assert await repo.find("projects/acme/applications/missing") is None
    assert len(sent) == 2 and len(set(sent)) == 1 and wire.round_trips() == 2
    sent.clear()
    assert await repo.find(NAME, 'labels.team = "other"') is None  # a filter: its own statement
    assert not sent


async def test_a_create_is_one_round_trip_and_a_retry_or_a_taken_name_writes_nothing(
    traced: tuple[Database, ResourceRepository[Any, Any], WireTrace],
) -> None:
    """A create writes its row and its CREATED event in one autocommit statement when the name is
    free (a transaction took six round trips); a retry with the same request id answers what the
    first one created, and a taken name is ALREADY_EXISTS: neither writes anything."""
    db, repo, wire = traced
    app = application_pb2.Application(labels={"team": "a"})
    app.spec.components["web"].image = "nginx:1"
    first = await repo.create(app, name=f"{NAME}-2", request_id="req-2")
    assert wire.round_trips() == 1
    assert await repo.get(f"{NAME}-2") == first
    retried = await repo.create(app, name=f"{NAME}-2", request_id="req-2")
    assert retried == first
    with pytest.raises(AlreadyExists):
        await repo.create(app, name=f"{NAME}-2", request_id="req-other")
    with pytest.raises(AlreadyExists):
        await repo.create(app, name=f"{NAME}-2")
    events = await db.fetch(select(SCHEMA.outbox.c.payload).where(SCHEMA.outbox.c.resource == f"{NAME}-2"))
    created = [change_event_pb2.ChangeEvent.FromString(row.payload) for row in events]
    assert [(e.change, e.uid, e.generation) for e in created] == [
        (change_event_pb2.CHANGE_TYPE_CREATED, first.uid, 1)]
    rows = await db.fetch(select(func.count()).select_from(SCHEMA.metadata.tables["toy.applications"])
                          .where(text("name = :name")).params(name=f"{NAME}-2"))
    assert rows[0][0] == 1


GUARD = ServiceSchema("guard")


class _GuardBase(DeclarativeBase):
    metadata = GUARD.metadata


class _DefaultedRow(ResourceRow, _GuardBase):
    """A table with a column of its own whose value would come from the ORM."""

    __tablename__ = "defaulted"
    extra: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


def test_a_table_whose_own_column_wants_an_orm_default_is_refused(stream_prefix: str) -> None:
    """A create is one statement of the standard columns; a table's own column is left to the
    database, so one whose value would come from a Python-side default is refused up front
    rather than stored without it."""
    with pytest.raises(TypeError, match=r"defaulted\.extra has a Python-side default"):
        ResourceRepository(
            Database("postgresql+psycopg://unused:unused@127.0.0.1:1/none"),
            Outbox(GUARD, service="guard", stream_prefix=stream_prefix),
            row_type=_DefaultedRow, message_type=application_pb2.Application,
            page_tokens=PageTokenCodec(b"0123456789abcdef"),
        )


async def test_the_sql_counter_counts_what_the_wire_carries(
    traced: tuple[Database, ResourceRepository[Any, Any], WireTrace],
) -> None:
    """``tests.sql_counter`` (what the reconcile counts rest on) agrees with the protocol trace:
    plain reads are one round trip, a transaction adds its BEGIN and COMMIT, and a status write
    from what the pass read is one statement in autocommit."""
    db, repo, wire = traced
    counter = SqlCounter()
    counter.attach(db)
    with counter.counting() as tally:
        stored = await repo.read(NAME)
        assert await repo.add_finalizer(NAME, FINALIZER)
        await repo.update_status(NAME, lambda r: set_condition(r.conditions, "Ready", True, reason="Counted",
                                                               observed_generation=1),
                                 read=stored)
        await repo.update(await repo.get(NAME), ["labels"])  # nothing changes: the transaction is all it costs
    assert tally.transactions == 1  # the finalizer's; the update of nothing opens none either
    assert tally.round_trips == wire.round_trips()


async def test_a_connection_the_server_closed_is_replaced_before_the_next_call(
    traced: tuple[Database, ResourceRepository[Any, Any], WireTrace],
) -> None:
    db, repo, _wire = traced
    async with db.read_session() as session:
        before = await session.scalar(text("SELECT pg_backend_pid()"))
    plain_before = (await db.fetch(BACKEND_PID))[0].pid  # the plain reads' own connection
    # What a PostgreSQL restart does to every pooled connection: FATAL, then the socket closes.
    async with await psycopg.AsyncConnection.connect(libpq_url(db.url), autocommit=True) as admin:
        for pid in (before, plain_before):
            await admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            # pg_terminate_backend only signals; wait until that backend is gone.
            while await (await admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,))).fetchone():
                await admin.execute("SELECT pg_sleep(0.01)")
    assert await repo.add_finalizer(NAME, FINALIZER)  # a plain read
    assert (await repo.get(NAME)).name == NAME
    async with db.read_session() as session:
        assert await session.scalar(text("SELECT pg_backend_pid()")) != before
    assert (await db.fetch(BACKEND_PID))[0].pid != plain_before
