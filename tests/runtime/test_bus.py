"""The bus under failure: crash before publish, several relays, poison messages."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, select

from tests.runtime.toy_service.tables import SCHEMA
from tests.support import REPO_ROOT
from threeport.common.v1alpha1 import change_event_pb2
from threeport_runtime.bus.consumer import StreamConsumer
from threeport_runtime.bus.outbox import Outbox
from threeport_runtime.bus.relay import OutboxRelay
from threeport_runtime.bus.streams import dead_letter_stream, resource_stream
from threeport_runtime.db.engine import Database
from threeport_runtime.tasks import cancel_and_wait
from threeport_runtime.testing import PrivateRedis, wait_until

APPLICATION = "threeport.registry.v1alpha1.Application"


async def stream_events(redis: Redis, stream: str) -> list[change_event_pb2.ChangeEvent]:
    entries: Any = await redis.xrange(stream)
    return [change_event_pb2.ChangeEvent.FromString(fields[b"e"]) for _, fields in entries]


async def test_event_committed_before_a_crash_is_published_after_restart(
    database_url: str, stream_prefix: str, redis_client: Redis
) -> None:
    db = Database(database_url)
    await db.create_schema(SCHEMA.metadata)
    writer = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.runtime.toy_service.crash_writer",
        database_url,
        stream_prefix,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    try:
        assert writer.stdout is not None
        line = await writer.stdout.readline()
        assert line.startswith(b"committed "), line
    finally:
        writer.send_signal(signal.SIGKILL)
        await writer.wait()
    stream = resource_stream(stream_prefix, APPLICATION)
    assert await redis_client.xlen(stream) == 0, "nothing may be published before the relay runs"

    relay = asyncio.create_task(OutboxRelay(db, SCHEMA, redis_client).run())
    try:

        async def published() -> list[change_event_pb2.ChangeEvent]:
            return await stream_events(redis_client, stream)

        events = await wait_until(published, what="the committed event to be published")
        assert [e.name for e in events] == ["projects/acme/applications/crashy"]
        assert events[0].change == change_event_pb2.CHANGE_TYPE_CREATED
    finally:
        await cancel_and_wait(relay)
        await db.dispose()


async def test_relay_replicas_publish_each_event_once_in_order_per_resource(
    database_url: str, stream_prefix: str, redis_client: Redis
) -> None:
    db = Database(database_url)
    await db.create_schema(SCHEMA.metadata)
    outbox = Outbox(SCHEMA, service="toy", stream_prefix=stream_prefix)
    relays = [asyncio.create_task(OutboxRelay(db, SCHEMA, redis_client, batch_size=7).run()) for _ in range(3)]

    async def write(resource: int) -> None:
        for generation in range(1, 21):
            async with db.session() as session, session.begin():
                await outbox.add(session, outbox.event(
                    resource_type=APPLICATION,
                    name=f"projects/acme/applications/r{resource}",
                    uid=str(resource),
                    generation=generation,
                    change=change_event_pb2.CHANGE_TYPE_UPDATED,
                ))

    try:
        await asyncio.gather(*(write(r) for r in range(10)))
        stream = resource_stream(stream_prefix, APPLICATION)

        async def all_published() -> bool:
            return int(await redis_client.xlen(stream)) >= 200

        await wait_until(all_published, what="200 events")
        events = await stream_events(redis_client, stream)
        assert len(events) == 200
        for resource in range(10):
            generations = [e.generation for e in events if e.uid == str(resource)]
            assert generations == list(range(1, 21))
    finally:
        await cancel_and_wait(*relays)
        await db.dispose()


async def test_a_batch_redis_refused_stays_in_the_outbox_until_it_is_published(
    database_url: str, stream_prefix: str, redis_client: Redis, private_redis: PrivateRedis
) -> None:
    """The batch is deleted in the transaction that publishes it: a failed XADD rolls the
    delete back, and the next drain publishes the same rows, in order."""
    db = Database(database_url)
    await db.create_schema(SCHEMA.metadata)
    outbox = Outbox(SCHEMA, service="toy", stream_prefix=stream_prefix)
    for generation in (1, 2, 3):
        async with db.session() as session, session.begin():
            await outbox.add(session, outbox.event(resource_type=APPLICATION, name="projects/acme/applications/r",
                                                   uid="r", generation=generation,
                                                   change=change_event_pb2.CHANGE_TYPE_UPDATED))
    redis = Redis.from_url(private_redis.url)
    relay = OutboxRelay(db, SCHEMA, redis)
    try:
        private_redis.stop()
        with pytest.raises((RedisError, OSError)):
            await relay.publish_batch()
        async with db.read_session() as session:
            assert await session.scalar(select(func.count()).select_from(SCHEMA.outbox)) == 3
        private_redis.start()
        assert await relay.publish_batch() == 3
        events = await stream_events(redis, resource_stream(stream_prefix, APPLICATION))
        assert [e.generation for e in events] == [1, 2, 3]
        async with db.read_session() as session:
            assert await session.scalar(select(func.count()).select_from(SCHEMA.outbox)) == 0
    finally:
        await redis.aclose()
        await db.dispose()


async def test_poison_message_is_dead_lettered_with_its_reason(stream_prefix: str, redis_client: Redis) -> None:
    stream = resource_stream(stream_prefix, APPLICATION)
    handled: list[str] = []

    async def handler(_stream: str, event: change_event_pb2.ChangeEvent) -> None:
        handled.append(event.name)

    consumer = StreamConsumer(
        redis_client,
        streams=[stream],
        group="poison-test",
        handler=handler,
        dead_letter_stream=dead_letter_stream(stream_prefix, "poison-test"),
        max_deliveries=3,
        claim_idle_ms=50,
        claim_interval=0.05,
        block_ms=50,
    )
    await consumer.ensure_groups()
    task = asyncio.create_task(consumer.run())
    try:
        poison_id = await redis_client.xadd(stream, {"e": b"\xff\x00 not a protobuf"})
        good = change_event_pb2.ChangeEvent(name="projects/acme/applications/fine", resource_type=APPLICATION)
        await redis_client.xadd(stream, {"e": good.SerializeToString()})

        async def dead_letters() -> Any:
            return await redis_client.xrange(dead_letter_stream(stream_prefix, "poison-test"))

        entries = await wait_until(dead_letters, what="the poison message in the dead-letter stream")
        _, fields = entries[0]
        assert fields[b"id"] == poison_id
        assert fields[b"deliveries"] == b"3"
        assert b"cannot decode ChangeEvent" in fields[b"reason"]
        assert handled == ["projects/acme/applications/fine"]
        pending: Any = await redis_client.xpending(stream, "poison-test")
        assert pending["pending"] == 0
    finally:
        await cancel_and_wait(task)
