"""The generic server side of ``WatchXs``: the current matches as ADDED, then changes.

Changes come from the service's own change-event stream (read without a consumer group, so
every watcher sees every event); each event is a hint to re-read the resource and compare it
with what this watcher last sent. A HEARTBEAT goes out when nothing happened for a while.
The stream position is taken *before* the initial list, so nothing between the two is missed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from google.protobuf.message import Message
from redis.asyncio import Redis
from redis.exceptions import RedisError

from threeport.common.v1alpha1 import change_event_pb2, watch_pb2
from threeport_runtime.bus.streams import PAYLOAD_FIELD
from threeport_runtime.db.repository import ResourceRepository
from threeport_runtime.errors import Unavailable

M = TypeVar("M", bound=Message)
Response = TypeVar("Response")

ADDED = watch_pb2.WATCH_EVENT_TYPE_ADDED
MODIFIED = watch_pb2.WATCH_EVENT_TYPE_MODIFIED
DELETED = watch_pb2.WATCH_EVENT_TYPE_DELETED
HEARTBEAT = watch_pb2.WATCH_EVENT_TYPE_HEARTBEAT


async def watch_resources(
    repository: ResourceRepository[M, Any],
    redis: Redis,
    respond: Callable[[watch_pb2.WatchEventType.ValueType, M | None], Response],
    *,
    parent: str = "",
    filter_text: str = "",
    heartbeat_interval: float = 5.0,
) -> AsyncIterator[Response]:
    """Yields watch responses built by ``respond(type, resource)`` until the client goes away."""
    repository.compile_filter(filter_text)  # Bad filters fail now, as INVALID_ARGUMENT.
    stream = repository.stream
    try:
        newest: Any = await redis.xrevrange(stream, count=1)
    except RedisError as exc:
        raise Unavailable("the change stream is unavailable; retry the watch") from exc
    position: Any = newest[0][0] if newest else "0-0"
    sent: dict[str, M] = {}
    page_token = ""
    while True:
        page, page_token = await repository.list(
            parent=parent, filter_text=filter_text, page_token=page_token, page_size=500
        )
        for resource in page:
            sent[_name(resource)] = resource
            yield respond(ADDED, resource)
        if not page_token:
            break
    prefix = parent + "/" if parent else ""
    while True:
        try:
            batches: Any = await redis.xread({stream: position}, count=500, block=int(heartbeat_interval * 1000))
        except RedisError as exc:
            raise Unavailable("the change stream is unavailable; retry the watch") from exc
        if not batches:
            yield respond(HEARTBEAT, None)
            continue
        for _, messages in batches:
            for message_id, fields in messages:
                position = message_id
                name = _event_name(fields)
                if not name or not name.startswith(prefix):
                    continue
                current = await repository.find(name, filter_text)
                previous = sent.get(name)
                if current is None:
                    if previous is not None:
                        del sent[name]
                        yield respond(DELETED, previous)
                    continue
                if previous is not None and _etag(previous) == _etag(current):
                    continue  # A duplicate hint: this watcher already has this version.
                sent[name] = current
                yield respond(ADDED if previous is None else MODIFIED, current)


def _event_name(fields: dict[Any, Any]) -> str:
    payload = fields.get(PAYLOAD_FIELD.encode(), fields.get(PAYLOAD_FIELD))
    if payload is None:
        return ""
    try:
        event = change_event_pb2.ChangeEvent.FromString(payload)
    except Exception:
        return ""
    name: str = event.name
    return name


def _name(resource: Message) -> str:
    value: str = getattr(resource, "name")  # noqa: B009 - generic over resource types
    return value


def _etag(resource: Message) -> str:
    value: str = getattr(resource, "etag")  # noqa: B009 - generic over resource types
    return value
