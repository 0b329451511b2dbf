"""The database pool a service runtime builds holds a connection for every reconcile worker:
a pool smaller than the work done at once opens and closes a connection (a PostgreSQL backend,
and psycopg's prepared statements with it) for every session beyond its size."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event, text

from tests.runtime.toy_service.tables import SCHEMA
from threeport_runtime.runtime import ServiceRuntime
from threeport_runtime.testing import make_settings


async def test_every_worker_holding_a_session_at_once_reuses_the_same_connections(
    database_url: str, stream_prefix: str
) -> None:
    settings = make_settings("toy", database_url, stream_prefix)
    runtime = ServiceRuntime(settings, SCHEMA)
    opened = 0

    def count(*_: Any) -> None:
        nonlocal opened
        opened += 1

    event.listen(runtime.db.engine.sync_engine, "connect", count)
    workers = settings.reconcile_workers
    together = asyncio.Barrier(workers)

    async def one_session() -> None:
        async with runtime.db.session() as session:
            await session.execute(text("SELECT 1"))
            await together.wait()  # every worker holds its connection at the same time

    try:
        for _ in range(3):
            await asyncio.gather(*(one_session() for _ in range(workers)))
        assert opened == workers
    finally:
        await runtime.close()
