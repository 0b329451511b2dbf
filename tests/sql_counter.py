"""Counts the PostgreSQL round trips one service's engine makes for each run of chosen work (a
controller's reconciles), leaving out what the rest of the process sends on the same engine
(API calls, the outbox relay, other controllers).

Every statement is seen by SQLAlchemy's ``before_cursor_execute``, or by the plain-read pool's
observers (``PlainRead``s, autocommit: no transaction). A statement run outside
autocommit on a connection with no transaction open makes psycopg send ``BEGIN`` first, and that
transaction later ends with one ``COMMIT`` or ``ROLLBACK``: round trips are the statements plus
two per such transaction (``tests/runtime/test_round_trips.py`` checks this against the wire).
Autocommit statements open no transaction. A run's statements are found through a context
variable, which reaches the greenlets SQLAlchemy runs the driver in.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from psycopg import pq
from sqlalchemy import event

from threeport_runtime.db.engine import Database
from threeport_runtime.runtime import RunningService
from threeport_runtime.testing import wait_until

T = TypeVar("T")


@dataclass
class Tally:
    """One run: its key, its statements (one line each) and the transactions they opened."""

    key: str = ""
    statements: list[str] = field(default_factory=list)
    transactions: int = 0

    @property
    def round_trips(self) -> int:
        return len(self.statements) + 2 * self.transactions

    def show(self) -> str:
        return f"{len(self.statements)} statements, {self.transactions} transactions:\n  " + "\n  ".join(
            s[:160] for s in self.statements)


_current: contextvars.ContextVar[Tally | None] = contextvars.ContextVar("sql_counter_tally", default=None)


@dataclass
class SqlCounter:
    """The tallies of the runs finished since the last ``take``."""

    runs: list[Tally] = field(default_factory=list)

    def attach(self, db: Database) -> None:
        event.listen(db.engine.sync_engine, "before_cursor_execute", self._record)
        db.plain_reads.observers.append(self._record_plain)

    def detach(self, db: Database) -> None:
        event.remove(db.engine.sync_engine, "before_cursor_execute", self._record)
        db.plain_reads.observers.remove(self._record_plain)

    @contextmanager
    def counting(self, key: str = "") -> Iterator[Tally]:
        """Counts what the current task sends until the block ends, as one run."""
        tally = Tally(key)
        token = _current.set(tally)
        try:
            yield tally
        finally:
            _current.reset(token)
            self.runs.append(tally)

    def wrap(self, work: Callable[[str], Coroutine[Any, Any, T]]) -> Callable[[str], Coroutine[Any, Any, T]]:
        """``work`` (a reconcile function), each call counted as one run."""

        async def counted(key: str) -> T:
            with self.counting(key):
                return await work(key)

        return counted

    def take(self, key: str | None = None) -> list[Tally]:
        """The runs (of ``key``, if given) finished so far; forgets every run."""
        runs, self.runs = self.runs, []
        return [run for run in runs if key is None or run.key == key]

    @staticmethod
    def _record_plain(statement: str) -> None:
        tally = _current.get()
        if tally is not None:
            tally.statements.append(" ".join(statement.split()))

    @staticmethod
    def _record(connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        tally = _current.get()
        if tally is None:
            return
        driver = connection.connection.dbapi_connection.driver_connection
        if not driver.autocommit and driver.pgconn.transaction_status == pq.TransactionStatus.IDLE:
            tally.transactions += 1
        tally.statements.append(" ".join(statement.split()))


def counted_controller(service: RunningService, controller: str) -> tuple[SqlCounter, Callable[[str], None]]:
    """A counter of one controller's reconciles on the service's engine, and the controller's
    ``enqueue`` (a converged resource is not requeued by time: tests ask for the passes)."""
    found = next(c for c in service.runtime.controllers if c.name == controller)
    counter = SqlCounter()
    counter.attach(service.runtime.db)
    found._reconcile = counter.wrap(found._reconcile)
    return counter, found.enqueue


async def steady_runs(counter: SqlCounter, enqueue: Callable[[str], None], key: str, passes: int = 5) -> list[Tally]:
    """The tallies of ``passes`` more reconciles of ``key``, after three that are not counted
    (what converging read is behind them, caches are warm, statements prepared)."""
    for wanted in (3, passes):
        counter.take()
        runs: list[Tally] = []

        async def enough(wanted: int = wanted, runs: list[Tally] = runs) -> bool:
            runs.extend(counter.take(key))
            if len(runs) < wanted:
                enqueue(key)
            return len(runs) >= wanted

        await wait_until(enough, within=45.0, interval=0.1, what=f"{wanted} more reconciles of {key}")
    return runs[:passes]


def assert_steady(runs: list[Tally], limit: int) -> None:
    """Each pass within ``limit`` round trips, all of them plain reads: no transaction, no lock."""
    shown = "\n".join(run.show() for run in runs)
    assert all(run.round_trips <= limit and run.transactions == 0 for run in runs), shown
    assert not [s for run in runs for s in run.statements if not s.startswith("SELECT") or "FOR UPDATE" in s], shown
