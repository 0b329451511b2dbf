"""The async SQLAlchemy engine and session factory of one service (psycopg 3)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, overload

from sqlalchemy import Executable, MetaData, Row, make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from threeport_runtime.db import json_documents
from threeport_runtime.db.liveness import discard_closed_connections
from threeport_runtime.db.plain_reads import PlainRead, PlainReadPool

# Connections older than this are replaced when next taken from the pool: a bound on how long a
# connection whose peer vanished silently (no FIN, e.g. an idle flow dropped by a firewall) may
# be kept. Closed connections are caught at checkout without waiting for this (``liveness``).
POOL_RECYCLE_SECONDS = 1800


class Database:
    """One engine per service process; sessions are short-lived, one per unit of work."""

    def __init__(self, url: str, *, pool_size: int = 10, max_overflow: int = 8, plain_reads: int = 2):
        """``pool_size`` connections are kept; up to ``max_overflow`` more are opened for a burst
        and closed when handed back. Services size it from their settings
        (``Settings.pool_size``): below the sessions open at once in steady work, every
        session beyond it starts a PostgreSQL backend. Up to ``plain_reads`` more serve the
        ``PlainRead`` statements (``fetch``), opened when needed; they come out of the burst
        allowance (an overflow of 10 before them), so a process opens no more connections at
        its peak than it did without them: a shared server's ``max_connections`` is the limit."""
        self.url = url
        # No pool_pre_ping: it costs a round trip per session. A closed connection is found by
        # looking at its socket when the pool hands it out, which costs nothing (``liveness``).
        self.engine: AsyncEngine = create_async_engine(
            url, pool_size=pool_size, max_overflow=max_overflow, pool_recycle=POOL_RECYCLE_SECONDS,
            json_deserializer=json_documents.loads,
        )
        discard_closed_connections(self.engine)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # Same pool; autocommit is a client-side switch in psycopg, so a statement here is one
        # round trip, without BEGIN and ROLLBACK (or COMMIT) around it: for reads, and for writes
        # that are a single statement (atomic on their own).
        self.autocommit: AsyncEngine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.reads = async_sessionmaker(self.autocommit, expire_on_commit=False)
        self.plain_reads = PlainReadPool(self.libpq_url(), size=plain_reads)

    def session(self) -> AsyncSession:
        return self.sessions()

    def read_session(self) -> AsyncSession:
        """A session for reads that need no transaction: each statement commits on its own."""
        return self.reads()

    @overload
    async def fetch(self, statement: PlainRead, parameters: Mapping[str, Any] | None = None) -> Sequence[Any]: ...

    @overload
    async def fetch(self, statement: Executable, parameters: Mapping[str, Any] | None = None) -> Sequence[Row[Any]]: ...

    async def fetch(
        self, statement: PlainRead | Executable, parameters: Mapping[str, Any] | None = None
    ) -> Sequence[Any]:
        """Every row of one read statement, run on its own (autocommit: one round trip), as plain
        rows whose columns read as attributes (``row.name``), without the ORM.

        For the hot reads (a resource by name, a deployment's releases): an ORM session costs about
        twice the CPU of the statement itself (the session, its identity map, an object built per
        row), measured ~0.65 against ~0.3 ms a one-row read, and a steady reconcile makes three.
        A ``PlainRead`` (a statement built once) skips SQLAlchemy's execution too (~0.12 ms:
        ``plain_reads``)."""
        if isinstance(statement, PlainRead):
            return await self.plain_reads.fetch(statement, self.engine.dialect, parameters)
        async with self.autocommit.connect() as connection:
            return (await connection.execute(statement, parameters)).all()

    def libpq_url(self) -> str:
        """The URL in the form psycopg accepts directly (used for LISTEN connections)."""
        return libpq_url(self.url)

    async def create_schema(self, metadata: MetaData) -> None:
        """Creates the schema and its tables without migrations (tests and throwaway setups)."""
        async with self.engine.begin() as connection:
            await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{metadata.schema}"'))
            await connection.run_sync(metadata.create_all)

    async def dispose(self) -> None:
        await self.plain_reads.close()
        await self.engine.dispose()


def libpq_url(sqlalchemy_url: str) -> str:
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)
