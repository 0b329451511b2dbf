"""Publishes outbox rows to Redis Streams, in order, then deletes them.

Safe with N replicas: each batch runs in a transaction holding a transaction-scoped advisory
lock, so exactly one relay publishes at a time and rows go out in id order (which, per
resource, is commit order because writers lock the resource row). At-least-once: a crash after
XADD and before the delete commits publishes those rows again; consumers tolerate duplicates.
Relays wake on the NOTIFY each outbox write sends, and poll as a fallback.
"""

from __future__ import annotations

import asyncio
import logging
import zlib

import psycopg
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import delete, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.dml import ReturningDelete

from threeport_runtime.bus.streams import DEFAULT_MAXLEN, PAYLOAD_FIELD
from threeport_runtime.db.engine import Database
from threeport_runtime.db.schema import ServiceSchema

log = logging.getLogger(__name__)


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        schema: ServiceSchema,
        redis: Redis,
        *,
        batch_size: int = 500,
        maxlen: int = DEFAULT_MAXLEN,
        poll_interval: float = 1.0,
    ):
        self._db = db
        self._schema = schema
        self._redis = redis
        self._batch_size = batch_size
        self._maxlen = maxlen
        self._poll_interval = poll_interval
        # Advisory locks are database-wide; the schema name keeps services apart.
        self._take = _take_batch(schema, zlib.crc32(f"threeport-outbox:{schema.name}".encode()), batch_size)

    async def run(self) -> None:
        """Publishes until cancelled; survives database and Redis outages by retrying."""
        delay = 0.1
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._db.libpq_url(), autocommit=True) as listener:
                    await listener.execute(f'LISTEN "{self._schema.outbox_channel}"')
                    delay = 0.1
                    while True:
                        await self.drain()
                        async for _ in listener.notifies(timeout=self._poll_interval, stop_after=1):
                            pass
                        # Every write that notified by now has committed: the next drain publishes
                        # them all. Draining once per notification made a busy service run one
                        # transaction per event, most of them finding the rows already gone.
                        async for _ in listener.notifies(timeout=0):
                            pass
            except (psycopg.Error, OSError, RedisError, SQLAlchemyError) as exc:
                log.warning("outbox relay retrying after error", extra={"error": str(exc)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def drain(self) -> int:
        """Publishes batches until the outbox is empty or another replica holds the lock."""
        total = 0
        while True:
            published = await self.publish_batch()
            total += published
            if published < self._batch_size:
                return total

    async def publish_batch(self) -> int:
        """Publishes and deletes at most one batch; returns how many rows went out.

        Three statements: BEGIN, one that takes the lock and deletes the batch (returning it),
        and COMMIT after the XADDs. A failed XADD rolls the delete back, so the rows stay for the
        next drain. Without the lock (another replica is draining) the delete takes nothing."""
        async with self._db.engine.begin() as connection:
            rows = sorted((await connection.execute(self._take)).all(), key=lambda row: row.id)
            if not rows:
                return 0
            pipeline = self._redis.pipeline(transaction=False)
            for row in rows:
                pipeline.xadd(row.stream, {PAYLOAD_FIELD: row.payload}, maxlen=self._maxlen, approximate=True)
            await pipeline.execute()
        return len(rows)


def _take_batch(schema: ServiceSchema, lock_key: int, batch_size: int) -> ReturningDelete[tuple[int, str, bytes]]:
    """Takes the relay lock and deletes the oldest ``batch_size`` rows, returning them; deletes
    nothing when another transaction holds the lock."""
    outbox = schema.outbox
    # A CTE with a volatile function is evaluated once, before the delete reads any row.
    held = select(func.pg_try_advisory_xact_lock(lock_key).label("held")).cte("held")
    batch = select(outbox.c.id).where(select(held.c.held).scalar_subquery()).order_by(outbox.c.id).limit(batch_size)
    return (
        delete(outbox)
        .where(outbox.c.id.in_(batch.scalar_subquery()))
        .returning(outbox.c.id, outbox.c.stream, outbox.c.payload)
    )
