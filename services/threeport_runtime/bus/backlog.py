"""How far behind the bus is, for operators: stream lag, oldest pending message, outbox backlog.

Sampled when metrics are scraped (``sample()``), not on a timer, and reported as gauges:

- ``threeport.stream.lag`` (stream, group): entries the group has not read yet (Redis 7
  ``XINFO GROUPS`` ``lag``);
- ``threeport.stream.pending`` and ``threeport.stream.oldest_pending_age`` (seconds; stream,
  group): messages delivered but not yet acknowledged, and how old the oldest of them is (its id
  carries the time it was added);
- ``threeport.outbox.backlog`` and ``threeport.outbox.oldest_age`` (seconds; schema): committed
  changes not yet published by the relay.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from opentelemetry.metrics import Observation
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError
from sqlalchemy import func, select

from threeport_runtime import gauges
from threeport_runtime.db.engine import Database
from threeport_runtime.db.schema import ServiceSchema


@dataclass(frozen=True)
class Subscription:
    """One consumer group reading one stream."""

    stream: str
    group: str


@dataclass
class _Sample:
    lag: dict[Subscription, int] = field(default_factory=dict)
    pending: dict[Subscription, int] = field(default_factory=dict)
    oldest_pending_age: dict[Subscription, float] = field(default_factory=dict)
    outbox_rows: int = 0
    outbox_oldest_age: float = 0.0


class BusBacklog:
    def __init__(self, redis: Redis, db: Database, schema: ServiceSchema, subscriptions: Sequence[Subscription]):
        self._redis = redis
        self._db = db
        self._schema = schema
        self._subscriptions = list(subscriptions)
        self._sample = _Sample()
        gauges.observe("threeport.stream.lag", self, BusBacklog._lag, description="stream entries not yet read")
        gauges.observe("threeport.stream.pending", self, BusBacklog._pending, description="delivered, not acked")
        gauges.observe(
            "threeport.stream.oldest_pending_age", self, BusBacklog._oldest, unit="s",
            description="age of the oldest unacknowledged message",
        )
        gauges.observe("threeport.outbox.backlog", self, BusBacklog._outbox, description="changes not yet published")
        gauges.observe(
            "threeport.outbox.oldest_age", self, BusBacklog._outbox_age, unit="s",
            description="age of the oldest unpublished change",
        )

    async def sample(self) -> None:
        """Reads Redis and the outbox once; errors leave the previous sample (and are not fatal)."""
        sample = _Sample()
        now_ms = time.time() * 1000
        for subscription in self._subscriptions:
            try:
                await self._sample_group(subscription, sample, now_ms)
            except (RedisError, OSError):
                continue
        outbox = self._schema.outbox
        async with self._db.engine.connect() as connection:
            row = (await connection.execute(select(func.count(), func.min(outbox.c.created_at)))).one()
            current = (await connection.execute(select(func.now()))).scalar_one()
        sample.outbox_rows = int(row[0])
        sample.outbox_oldest_age = (current - row[1]).total_seconds() if row[1] is not None else 0.0
        self._sample = sample

    async def _sample_group(self, subscription: Subscription, sample: _Sample, now_ms: float) -> None:
        try:
            groups = await self._redis.xinfo_groups(subscription.stream)
        except ResponseError:  # no such stream yet
            return
        for group in groups:
            if _text(group.get("name")) == subscription.group:
                sample.lag[subscription] = int(group.get("lag") or 0)
                sample.pending[subscription] = int(group.get("pending") or 0)
        summary = await self._redis.xpending(subscription.stream, subscription.group)
        oldest = summary.get("min") if summary else None
        if oldest:
            added_ms = int(_text(oldest).split("-")[0])
            sample.oldest_pending_age[subscription] = max(0.0, (now_ms - added_ms) / 1000)
        else:
            sample.oldest_pending_age[subscription] = 0.0

    def _lag(self) -> Iterable[Observation]:
        return [Observation(v, _labels(s)) for s, v in self._sample.lag.items()]

    def _pending(self) -> Iterable[Observation]:
        return [Observation(v, _labels(s)) for s, v in self._sample.pending.items()]

    def _oldest(self) -> Iterable[Observation]:
        return [Observation(v, _labels(s)) for s, v in self._sample.oldest_pending_age.items()]

    def _outbox(self) -> Iterable[Observation]:
        return [Observation(self._sample.outbox_rows, {"schema": self._schema.name})]

    def _outbox_age(self) -> Iterable[Observation]:
        return [Observation(self._sample.outbox_oldest_age, {"schema": self._schema.name})]


def _labels(subscription: Subscription) -> dict[str, str]:
    return {"stream": subscription.stream, "group": subscription.group}


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
