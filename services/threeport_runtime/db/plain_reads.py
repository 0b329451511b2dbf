"""The hottest reads, run on psycopg connections of their own instead of SQLAlchemy's.

A steady reconcile makes a few reads by key (the resource, a deployment's namespace records and
releases). Through SQLAlchemy Core one such read costs ~375 us of CPU on the 2-core machine; the
same statement on a connection from ``psycopg_pool`` costs ~120 us. Most of the difference is
SQLAlchemy's pool checkout on asyncio (greenlet switches, pool events, the isolation level set
and reset) and its execution context, not the statement (``tools/bench/README.md``).

A ``PlainRead`` is a statement built once (a module or instance constant) and compiled once per
dialect into psycopg's SQL, with the bind and result processors SQLAlchemy would apply, so that
its rows are what ``Database.fetch`` returns for the same statement through Core. Its connections
(``PlainReadPool``) are autocommit (one round trip per read), prepare the statement on the
server after a few uses (psycopg's ``prepare_threshold``), read JSON with the engine's
deserializer, and are checked at checkout the way the engine's are (``liveness``: no round trip).
"""

from __future__ import annotations

import asyncio
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from weakref import WeakKeyDictionary

import psycopg
from psycopg.types.json import set_json_loads
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import Select
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler

from threeport_runtime.db import json_documents
from threeport_runtime.db.liveness import is_open

Processor = Callable[[Any], Any]

# A plain-read connection unused this long is closed (psycopg_pool's ``max_idle``).
IDLE_SECONDS = 60.0
# A read waits this long for a connection, then fails as an outage (``PoolTimeout``, an
# ``OperationalError``: UNAVAILABLE to a caller, a retry for a reconcile). While PostgreSQL is
# down, the pool keeps reconnecting; a restart shorter than this is not noticed by the reads.
WAIT_SECONDS = 5.0


class PlainRead:
    """One read statement, built once, run through a ``PlainReadPool``; its rows are named
    tuples of the selected columns (``row.name``), as Core's rows read."""

    def __init__(self, statement: Select[*tuple[Any, ...]]):
        self.statement = statement
        # Per engine's dialect (one in a service; several in a process that runs more), held no
        # longer than the engine.
        self._compiled: WeakKeyDictionary[Dialect, _Compiled] = WeakKeyDictionary()

    def compiled(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect)
        if found is None:
            found = self._compiled[dialect] = _Compiled(self.statement, dialect)
        return found


class _Compiled:
    """The statement's SQL for psycopg, its literal parameters and its type processors."""

    def __init__(self, statement: Select[*tuple[Any, ...]], dialect: Dialect):
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        self.sql = compiled.string
        self.defaults = dict(compiled.params)
        self.binders: dict[str, Processor] = {}
        required = set()
        for bind, key in compiled.bind_names.items():  # each parameter and its name in the SQL
            if bind.expanding:
                raise TypeError(f"parameter {key!r} expands into a list (IN): use = ANY of an array")
            if bind.required:
                required.add(key)
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self.binders[key] = processor
        self.required = frozenset(required)
        columns = list(statement.selected_columns)
        self.names = tuple(str(column.key) for column in columns)
        self.readers: tuple[Processor | None, ...] = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        )
        self.convert = any(reader is not None for reader in self.readers)
        self.row_type: Any = namedtuple("PlainRow", self.names, rename=True)  # type: ignore[misc]

    def parameters(self, given: Mapping[str, Any] | None) -> dict[str, Any]:
        given = given or {}
        if missing := self.required.difference(given):
            raise TypeError(f"a value is required for parameter(s) {', '.join(sorted(missing))}")
        values = self.defaults | dict(given)
        for key, processor in self.binders.items():
            values[key] = processor(values[key])
        return values

    def rows(self, cursor: psycopg.AsyncCursor[tuple[Any, ...]], fetched: list[tuple[Any, ...]]) -> Sequence[Any]:
        described = tuple(column.name for column in cursor.description or ())
        if described != self.names:
            raise TypeError(f"a PlainRead's columns came back as {described}, not {self.names}")
        make = self.row_type._make
        if not self.convert:
            return [make(values) for values in fetched]
        readers = self.readers
        return [
            make(value if reader is None else reader(value) for reader, value in zip(readers, values, strict=True))
            for values in fetched
        ]


class PlainReadPool:
    """A few autocommit psycopg connections for ``PlainRead``s, opened when reads need them and
    closed after ``IDLE_SECONDS`` unused.

    Kept small (``size``, 2 for a service): a read holds its connection for one round trip
    (~0.15 ms), so two serve a service's 16 workers (``Database`` takes them out of the
    engine's burst allowance)."""

    def __init__(self, libpq_url: str, *, size: int):
        self._pool: AsyncConnectionPool[psycopg.AsyncConnection[tuple[Any, ...]]] = AsyncConnectionPool(
            libpq_url,
            min_size=0,  # opened when a read needs one: a process that makes none holds none
            max_size=size,
            max_idle=IDLE_SECONDS,
            open=False,
            kwargs={"autocommit": True},
            configure=self._configure,
            check=_check,
            name="plain-reads",
        )
        self._opened = False
        self._opening = asyncio.Lock()
        # Called with each statement as it is sent (what SQLAlchemy's ``before_cursor_execute``
        # is to the engine): tests count round trips with it.
        self.observers: list[Callable[[str], None]] = []
        # Called with each new connection (SQLAlchemy's ``connect`` event): tests trace the wire.
        self.connected: list[Callable[[psycopg.AsyncConnection[Any]], None]] = []

    async def fetch(self, read: PlainRead, dialect: Dialect, parameters: Mapping[str, Any] | None) -> Sequence[Any]:
        compiled = read.compiled(dialect)
        values = compiled.parameters(parameters)
        if not self._opened:
            await self._open()
        for observe in self.observers:
            observe(compiled.sql)
        async with self._pool.connection(timeout=WAIT_SECONDS) as connection:
            cursor = await connection.execute(compiled.sql, values)
            return compiled.rows(cursor, await cursor.fetchall())

    async def _open(self) -> None:
        async with self._opening:
            if not self._opened:
                await self._pool.open()
                self._opened = True

    async def _configure(self, connection: psycopg.AsyncConnection[Any]) -> None:
        # The engine's JSON deserializer, so a JSONB column reads as it does through SQLAlchemy.
        set_json_loads(json_documents.loads, connection)
        for connected in self.connected:
            connected(connection)

    async def close(self) -> None:
        if self._opened:
            await self._pool.close()
            self._opened = False


async def _check(connection: psycopg.AsyncConnection[Any]) -> None:
    """At checkout, without a round trip: a connection the server closed is closed here too,
    so the pool discards it and hands out (or opens) another before the read is sent."""
    if not is_open(connection):
        await connection.close()
        raise psycopg.OperationalError("the server closed this pooled connection")
