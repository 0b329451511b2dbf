"""Benchmark of the event bus (DESIGN §11): throughput against raw Redis Streams and
outbox-commit-to-consumer latency.

Run: ``python tools/bench/bus.py`` (PostgreSQL and Redis as for the tests). The baseline is
raw pipelined XADD plus XREADGROUP/XACK on the same Redis in the same run; the bus is the
outbox relay (read, XADD, delete) plus the StreamConsumer. Last line: ``RESULT ...``.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from sqlalchemy import insert

from threeport.common.v1alpha1 import change_event_pb2
from threeport_runtime.bus.consumer import StreamConsumer
from threeport_runtime.bus.outbox import Outbox
from threeport_runtime.bus.relay import OutboxRelay
from threeport_runtime.bus.streams import connect_redis, dead_letter_stream, resource_stream
from threeport_runtime.db.engine import Database
from threeport_runtime.db.schema import ServiceSchema
from threeport_runtime.tasks import cancel_and_wait
from threeport_runtime.testing import REDIS_URL, delete_streams, throwaway_database, unique_stream_prefix

MESSAGES = 20_000
BATCH = 500
LATENCY_SAMPLES = 300
RESOURCE_TYPE = "bench.Thing"


def payload(index: int) -> bytes:
    return change_event_pb2.ChangeEvent(
        resource_type=RESOURCE_TYPE, name=f"things/t{index}", uid=str(index), generation=1
    ).SerializeToString()


async def raw_throughput(redis: Any, prefix: str) -> float:
    stream = prefix + "raw"
    await redis.xgroup_create(stream, "g", id="$", mkstream=True)
    received = 0

    async def produce() -> None:
        for start in range(0, MESSAGES, BATCH):
            pipeline = redis.pipeline(transaction=False)
            for index in range(start, start + BATCH):
                pipeline.xadd(stream, {"e": payload(index)}, maxlen=100_000, approximate=True)
            await pipeline.execute()

    async def consume() -> None:
        nonlocal received
        while received < MESSAGES:
            response = await redis.xreadgroup("g", "c", {stream: ">"}, count=256, block=1000)
            for _, messages in response or []:
                for _, fields in messages:
                    change_event_pb2.ChangeEvent.FromString(fields[b"e"])
                await redis.xack(stream, "g", *[message_id for message_id, _ in messages])
                received += len(messages)

    started = time.perf_counter()
    await asyncio.gather(produce(), consume())
    return MESSAGES / (time.perf_counter() - started)


async def bus_throughput(db: Database, schema: ServiceSchema, redis: Any, prefix: str) -> float:
    stream = resource_stream(prefix, RESOURCE_TYPE)
    rows = [{"stream": stream, "resource": f"things/t{i}", "payload": payload(i)} for i in range(MESSAGES)]
    async with db.engine.begin() as connection:
        for start in range(0, MESSAGES, 5000):
            await connection.execute(insert(schema.outbox), rows[start : start + 5000])
    received = 0
    all_received = asyncio.Event()

    async def handler(_stream: str, _event: change_event_pb2.ChangeEvent) -> None:
        nonlocal received
        received += 1
        if received >= MESSAGES:
            all_received.set()

    consumer = StreamConsumer(
        redis, streams=[stream], group="bench", handler=handler, dead_letter_stream=dead_letter_stream(prefix, "b")
    )
    await consumer.ensure_groups()
    started = time.perf_counter()
    tasks = [
        asyncio.create_task(OutboxRelay(db, schema, redis, batch_size=BATCH).run()),
        asyncio.create_task(consumer.run()),
    ]
    await all_received.wait()
    elapsed = time.perf_counter() - started
    await cancel_and_wait(*tasks)
    return MESSAGES / elapsed


async def latency(db: Database, schema: ServiceSchema, redis: Any, prefix: str) -> list[float]:
    outbox = Outbox(schema, service="bench", stream_prefix=prefix + "lat:")
    committed: dict[str, float] = {}
    latencies: list[float] = []
    arrived = asyncio.Event()

    async def handler(_stream: str, event: change_event_pb2.ChangeEvent) -> None:
        if event.name in committed:
            latencies.append(time.perf_counter() - committed[event.name])
            arrived.set()

    stream = outbox.stream_for(RESOURCE_TYPE)
    consumer = StreamConsumer(
        redis, streams=[stream], group="lat", handler=handler, dead_letter_stream=dead_letter_stream(prefix, "l")
    )
    await consumer.ensure_groups()
    tasks = [asyncio.create_task(OutboxRelay(db, schema, redis).run()), asyncio.create_task(consumer.run())]
    await asyncio.sleep(0.5)
    for index in range(LATENCY_SAMPLES):
        arrived.clear()
        name = f"things/latency-{index}"
        async with db.session() as session, session.begin():
            await outbox.add(session, outbox.event(
                resource_type=RESOURCE_TYPE,
                name=name,
                uid=str(index),
                generation=1,
                change=change_event_pb2.CHANGE_TYPE_UPDATED,
            ))
        committed[name] = time.perf_counter()
        await asyncio.wait_for(arrived.wait(), 10)
    await cancel_and_wait(*tasks)
    return latencies


async def main() -> None:
    prefix = unique_stream_prefix()
    schema = ServiceSchema("bench")
    redis = connect_redis(REDIS_URL)
    async with throwaway_database() as url:
        db = Database(url)
        await db.create_schema(schema.metadata)
        try:
            raw = await raw_throughput(redis, prefix)
            bus = await bus_throughput(db, schema, redis, prefix)
            samples = sorted(await latency(db, schema, redis, prefix))
        finally:
            await db.dispose()
            await delete_streams(redis, prefix)
            await redis.aclose()
    p50 = statistics.median(samples) * 1000
    p99 = samples[int(len(samples) * 0.99) - 1] * 1000
    print(f"raw XADD/XREADGROUP: {raw:,.0f} msg/s; bus (outbox relay + consumer): {bus:,.0f} msg/s")
    print(f"outbox commit -> consumer latency over {len(samples)} events: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    print(
        f"RESULT raw_msgs_per_s={raw:.0f} bus_msgs_per_s={bus:.0f} throughput_ratio={bus / raw:.2f} "
        f"latency_p50_ms={p50:.2f} latency_p99_ms={p99:.2f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
