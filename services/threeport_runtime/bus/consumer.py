"""A consumer-group reader of change-event streams with reclaim and dead-lettering.

One group per controller, one consumer per replica. Messages are acked after the handler
returns (the controller's handler only enqueues keys). Messages left pending by a dead or
failing consumer are reclaimed with XAUTOCLAIM once idle; after ``max_deliveries`` they move to
a dead-letter stream with the reason they failed. If Redis loses the group (restart without
persistence, FLUSHALL), the group is re-created and ``on_reset`` runs so the owner can resync.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from google.protobuf.message import DecodeError
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from threeport.common.v1alpha1 import change_event_pb2
from threeport_runtime.bus.streams import PAYLOAD_FIELD
from threeport_runtime.tasks import cancel_and_wait

log = logging.getLogger(__name__)

EventHandler = Callable[[str, change_event_pb2.ChangeEvent], Awaitable[None]]
ResetHandler = Callable[[], Awaitable[None]]

_REASON_TTL_SECONDS = 24 * 3600


def replica_consumer_name() -> str:
    """A consumer name unique to this process: host, pid and a random suffix."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class StreamConsumer:
    def __init__(
        self,
        redis: Redis,
        *,
        streams: Sequence[str],
        group: str,
        handler: EventHandler,
        dead_letter_stream: str,
        consumer: str | None = None,
        on_reset: ResetHandler | None = None,
        max_deliveries: int = 5,
        claim_idle_ms: int = 30_000,
        claim_interval: float = 5.0,
        block_ms: int = 1_000,
        batch_size: int = 256,
    ):
        self._redis = redis
        self._streams = list(streams)
        self._group = group
        self._handler = handler
        self._dead_letter_stream = dead_letter_stream
        self._reasons_key = dead_letter_stream + ":reasons"
        self.consumer = consumer or replica_consumer_name()
        self._on_reset = on_reset
        self._max_deliveries = max_deliveries
        self._claim_idle_ms = claim_idle_ms
        self._claim_interval = claim_interval
        self._block_ms = block_ms
        self._batch_size = batch_size
        # Set once every group exists: from then on the streams keep each new event for us.
        self.ready = asyncio.Event()

    async def ensure_groups(self, start_id: str = "$") -> bool:
        """Creates missing groups (and streams); True when any had to be created."""
        created = False
        for stream in self._streams:
            try:
                await self._redis.xgroup_create(stream, self._group, id=start_id, mkstream=True)
                created = True
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        return created

    async def run(self) -> None:
        """Reads, handles and acks until cancelled."""
        await self._with_retry(self.ensure_groups)
        self.ready.set()
        claimer = asyncio.create_task(self._claim_forever(), name=f"reclaim {self._group}")
        try:
            while True:
                try:
                    await self._read_once()
                except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                    log.warning("stream consumer lost Redis; retrying", extra={"error": str(exc)})
                    await asyncio.sleep(0.5)
        finally:
            await cancel_and_wait(claimer)

    async def _read_once(self) -> None:
        try:
            response: Any = await self._redis.xreadgroup(
                self._group,
                self.consumer,
                {stream: ">" for stream in self._streams},
                count=self._batch_size,
                block=self._block_ms,
            )
        except ResponseError as exc:
            # NOGROUP: the group is gone; UNBLOCKED: the stream was deleted while we waited.
            if "NOGROUP" not in str(exc) and "UNBLOCKED" not in str(exc):
                raise
            await self._recover_lost_group()
            return
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            log.warning("stream read failed; retrying", extra={"group": self._group, "error": str(exc)})
            await asyncio.sleep(0.5)
            return
        for stream_name, messages in response or []:
            await self._handle_batch(_text(stream_name), messages)

    async def _recover_lost_group(self) -> None:
        # The group vanished: Redis restarted empty or was flushed. Read the new stream from its
        # start (the relay may already have republished into it), then resync everything
        # because events published before the loss are gone.
        log.warning("consumer group lost; re-creating and resyncing", extra={"group": self._group})
        await self.ensure_groups(start_id="0")
        if self._on_reset is not None:
            await self._on_reset()

    async def _handle_batch(self, stream: str, messages: list[tuple[Any, dict[Any, Any]]]) -> None:
        handled: list[Any] = []
        for message_id, fields in messages:
            if await self._handle_one(stream, message_id, fields):
                handled.append(message_id)
        if handled:
            await self._redis.xack(stream, self._group, *handled)

    async def _handle_one(self, stream: str, message_id: Any, fields: dict[Any, Any]) -> bool:
        try:
            payload = fields.get(PAYLOAD_FIELD.encode(), fields.get(PAYLOAD_FIELD))
            if payload is None:
                raise DecodeError(f"message has no {PAYLOAD_FIELD!r} field")
            event = change_event_pb2.ChangeEvent.FromString(payload)
            if not event.name:
                raise DecodeError("event has no resource name")
            await self._handler(stream, event)
            return True
        except Exception as exc:
            reason = f"cannot decode ChangeEvent: {exc}" if isinstance(exc, DecodeError) else f"handler failed: {exc!r}"
            log.warning("stream message not handled; it will be retried", extra={"stream": stream, "error": reason})
            # Left pending on purpose: it is reclaimed later and dead-lettered after N tries.
            await self._redis.hset(self._reasons_key, f"{stream}/{_text(message_id)}", reason)
            await self._redis.expire(self._reasons_key, _REASON_TTL_SECONDS)
            return False

    async def _claim_forever(self) -> None:
        while True:
            await asyncio.sleep(self._claim_interval)
            try:
                for stream in self._streams:
                    await self.reclaim(stream)
            except (ResponseError, RedisConnectionError, RedisTimeoutError, OSError) as exc:
                # The read loop owns recovery from lost groups and connections.
                log.debug("reclaim skipped", extra={"error": str(exc)})

    async def reclaim(self, stream: str) -> None:
        """Dead-letters exhausted messages, then takes over and handles the other idle ones."""
        pending: Any = await self._redis.xpending_range(
            stream, self._group, min="-", max="+", count=self._batch_size, idle=self._claim_idle_ms
        )
        for entry in pending:
            if entry["times_delivered"] >= self._max_deliveries:
                await self._dead_letter(stream, entry["message_id"], entry["times_delivered"])
        result: Any = await self._redis.xautoclaim(
            stream,
            self._group,
            self.consumer,
            min_idle_time=self._claim_idle_ms,
            start_id="0-0",
            count=self._batch_size,
        )
        claimed = [(mid, fields) for mid, fields in result[1] if fields is not None]
        if claimed:
            await self._handle_batch(stream, claimed)

    async def _dead_letter(self, stream: str, message_id: Any, deliveries: int) -> None:
        # XCLAIM first: only the replica whose claim succeeds moves the message, so it is
        # dead-lettered once even when several replicas reclaim at the same time.
        claimed: Any = await self._redis.xclaim(stream, self._group, self.consumer, self._claim_idle_ms, [message_id])
        if not claimed:
            return
        _, fields = claimed[0]
        key = f"{stream}/{_text(message_id)}"
        reason = await self._redis.hget(self._reasons_key, key)
        entry: dict[Any, Any] = {
            "stream": stream,
            "id": _text(message_id),
            "group": self._group,
            "deliveries": str(deliveries),
            "reason": _text(reason) if reason else f"not acknowledged after {deliveries} deliveries",
        }
        if fields and (payload := fields.get(PAYLOAD_FIELD.encode(), fields.get(PAYLOAD_FIELD))) is not None:
            entry[PAYLOAD_FIELD] = payload
        await self._redis.xadd(self._dead_letter_stream, entry, maxlen=10_000, approximate=True)
        await self._redis.xack(stream, self._group, message_id)
        await self._redis.hdel(self._reasons_key, key)
        log.error("message dead-lettered", extra={"stream": stream, "reason": entry["reason"]})

    async def _with_retry(self, action: Callable[[], Awaitable[object]]) -> None:
        delay = 0.1
        while True:
            try:
                await action()
                return
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                log.warning("redis unavailable; retrying", extra={"error": str(exc)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
