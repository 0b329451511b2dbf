"""``PlainRead``: a statement built once, run on the plain-read pool's psycopg connections with
the parameter processing SQLAlchemy would apply, and refused when it cannot be run that way."""

from __future__ import annotations

import asyncio
import socket

import psycopg
import pytest
from sqlalchemy import Text, any_, bindparam, column, select, table, values
from sqlalchemy.dialects.postgresql import ARRAY

from threeport_runtime.db.engine import Database
from threeport_runtime.db.plain_reads import WAIT_SECONDS, PlainRead
from threeport_runtime.outages import as_outage

NAMES = values(column("name", Text), name="names").data([("a",), ("b",), ("c",)])


async def test_an_array_parameter_and_literals_are_sent_as_core_sends_them(migrated_database: str) -> None:
    db = Database(migrated_database)
    try:
        statement = (
            select(NAMES.c.name)
            .where(NAMES.c.name == any_(bindparam("wanted", type_=ARRAY(Text))), NAMES.c.name != "c")
            .order_by(NAMES.c.name)
        )
        # A tuple is what callers often hold; the array's processor makes it a list, as Core does.
        wanted = {"wanted": ("a", "c", "z")}
        assert [row.name for row in await db.fetch(PlainRead(statement), wanted)] == ["a"]
        assert [row.name for row in await db.fetch(statement, wanted)] == ["a"]
        with pytest.raises(TypeError, match=r"required for parameter\(s\) wanted"):
            await db.fetch(PlainRead(statement), {})  # not sent as NULL
    finally:
        await db.dispose()


async def test_an_in_list_is_refused_before_anything_is_sent(migrated_database: str) -> None:
    db = Database(migrated_database)
    try:
        sent: list[str] = []
        db.plain_reads.observers.append(sent.append)
        rows = table("rows", column("name", Text))
        with pytest.raises(TypeError, match="= ANY of an array"):
            await db.fetch(PlainRead(select(rows.c.name).where(rows.c.name.in_(bindparam("names", expanding=True)))),
                           {"names": ["a"]})
        assert sent == []
    finally:
        await db.dispose()


async def test_an_unreachable_server_is_an_outage_not_a_hang() -> None:
    """Nothing listens on the port: the read gives up after the pool's wait (``WAIT_SECONDS``,
    not psycopg_pool's default of 30 s) with an error the services answer UNAVAILABLE for."""
    with socket.socket() as probe:  # a free port, closed again: connections are refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    db = Database(f"postgresql+psycopg://nobody@127.0.0.1:{port}/none")
    try:
        with pytest.raises(psycopg.OperationalError) as failure:
            await asyncio.wait_for(db.fetch(PlainRead(select(NAMES.c.name))), timeout=4 * WAIT_SECONDS)
        outage = as_outage(failure.value)
        assert outage is not None and outage.metadata["datastore"] == "database (PostgreSQL)"
    finally:
        await db.dispose()
