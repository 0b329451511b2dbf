"""The generic server side of ``WatchXs``: the current matches as ADDED, then changes.

Changes come from the service's own change-event stream (read without a consumer group, so
every watcher sees every event); each event is a hint to re-read the resource and compare it
with what this watcher last sent. The stream position is taken *before* the initial list, so
nothing between the two is missed.

Every response after the initial list carries ``resource_version``, the stream position it
reflects, like Kubernetes' resourceVersion: a client whose connection broke (a gateway or a
service restarted) sends it back and gets every change after it, without a new initial list.
A HEARTBEAT marks the end of the initial list and goes out whenever nothing happened for a
while, so idle clients know the stream is alive and keep an up-to-date position.

What a watcher was sent is kept serialized and deflated (``_Sent``: its etag and bytes, for the
DELETED event): a parsed Deployment of the scale benchmark costs ~5.3 KB, its bytes ~1.2 KB, and
deflated against those this watch sent before (``preset_deflate``) ~0.2-0.3 KB. A watch of every
deployment (``tptctl get deployments -w``) holds 10,000 of them for as long as it stays open:
~53 MB parsed, ~14 MB as bytes (issue 14).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any, NamedTuple, TypeVar

from google.protobuf.message import Message
from redis.asyncio import Redis
from redis.exceptions import RedisError

from threeport.common.v1alpha1 import change_event_pb2, watch_pb2
from threeport_runtime.bus.streams import PAYLOAD_FIELD
from threeport_runtime.db.repository import ResourceRepository
from threeport_runtime.errors import FieldViolation, InvalidArgument, OutOfRange, Unavailable
from threeport_runtime.preset_deflate import PresetDeflate

M = TypeVar("M", bound=Message)
Response = TypeVar("Response")

ADDED = watch_pb2.WATCH_EVENT_TYPE_ADDED
MODIFIED = watch_pb2.WATCH_EVENT_TYPE_MODIFIED
DELETED = watch_pb2.WATCH_EVENT_TYPE_DELETED
HEARTBEAT = watch_pb2.WATCH_EVENT_TYPE_HEARTBEAT

# A Redis read must return before the client's socket timeout, or redis-py reports a timeout
# for a stream that is merely quiet; block for at most this share of it.
_BLOCK_SHARE_OF_SOCKET_TIMEOUT = 0.5
_POSITION = re.compile(r"^\d+-\d+$")
# Both parts of a Redis stream id are unsigned 64-bit; Redis refuses a larger one, which would
# otherwise surface as a stream outage (UNAVAILABLE) and have clients retry it for ever.
_MAX_ID_PART = 2**64 - 1


class _Sent(NamedTuple):
    """The version of a resource a watcher was last sent: its etag, and its deflated bytes for
    DELETED."""

    etag: str
    packed: bytes

    @classmethod
    def of(cls, resource: Message, deflate: PresetDeflate) -> _Sent:
        return cls(_etag(resource), deflate.deflate(resource.SerializeToString()))


Respond = Callable[[watch_pb2.WatchEventType.ValueType, M | None, str], Response]


async def watch_resources(
    repository: ResourceRepository[M, Any],
    redis: Redis,
    respond: Respond[M, Response],
    *,
    parent: str = "",
    filter_text: str = "",
    resource_version: str = "",
    heartbeat_interval: float = 5.0,
) -> AsyncIterator[Response]:
    """Yields watch responses built by ``respond(type, resource, resource_version)`` until the
    client goes away. With ``resource_version`` it resumes after that stream position."""
    repository.compile_filter(filter_text)  # Bad filters fail now, as INVALID_ARGUMENT.
    stream = repository.stream
    sent: dict[str, _Sent] = {}
    deflate = PresetDeflate()
    if resource_version:
        position: Any = await _resume_position(redis, stream, resource_version)
    else:
        position = await _newest_position(redis, stream)
        page_token = ""
        while True:
            page, page_token = await repository.list(
                parent=parent, filter_text=filter_text, page_token=page_token, page_size=500
            )
            for resource in page:
                sent[_name(resource)] = _Sent.of(resource, deflate)
                yield respond(ADDED, resource, "")
            if not page_token:
                break
    yield respond(HEARTBEAT, None, _text(position))  # The initial list is complete.
    prefix = parent + "/" if parent else ""
    block_ms = _block_ms(redis, heartbeat_interval)
    while True:
        try:
            batches: Any = await redis.xread({stream: position}, count=500, block=block_ms)
        except RedisError as exc:
            raise Unavailable("the change stream is unavailable; retry the watch") from exc
        if not batches:
            yield respond(HEARTBEAT, None, _text(position))
            continue
        for _, messages in batches:
            for message_id, fields in messages:
                position = message_id
                event = _event(fields)
                if event is None or not event.name.startswith(prefix):
                    continue
                name = event.name
                current = await repository.find(name, filter_text)
                previous = sent.get(name)
                if current is None:
                    if previous is not None:
                        del sent[name]
                        last = repository.message_type.FromString(deflate.inflate(previous.packed))
                        yield respond(DELETED, last, _text(position))
                    elif resource_version and event.change == change_event_pb2.CHANGE_TYPE_DELETED:
                        # Resumed: the client may hold it from before the break; say it is gone.
                        yield respond(DELETED, _named(repository, name), _text(position))
                    continue
                if previous is not None and previous.etag == _etag(current):
                    continue  # A duplicate hint: this watcher already has this version.
                sent[name] = _Sent.of(current, deflate)
                created = previous is None and (
                    not resource_version or event.change == change_event_pb2.CHANGE_TYPE_CREATED)
                yield respond(ADDED if created else MODIFIED, current, _text(position))


async def _newest_position(redis: Redis, stream: str) -> Any:
    try:
        newest: Any = await redis.xrevrange(stream, count=1)
    except RedisError as exc:
        raise Unavailable("the change stream is unavailable; retry the watch") from exc
    return newest[0][0] if newest else "0-0"


async def _resume_position(redis: Redis, stream: str, resource_version: str) -> str:
    """``resource_version`` if the stream still holds everything after it, else OUT_OF_RANGE."""
    if not _POSITION.match(resource_version) or max(_key(resource_version)) > _MAX_ID_PART:
        raise InvalidArgument.for_fields([FieldViolation(
            "resource_version", f"{resource_version!r} is not a position this server gave out "
            "(pass back the resource_version of a watch response, or leave it empty)")])
    try:
        info: Any = await redis.xinfo_stream(stream)
    except RedisError as exc:
        if "no such key" in str(exc).lower():
            return resource_version  # Nothing was ever written, so nothing was trimmed.
        raise Unavailable("the change stream is unavailable; retry the watch") from exc
    trimmed = _text(info.get("max-deleted-entry-id") or info.get(b"max-deleted-entry-id") or "0-0")
    if _key(resource_version) < _key(trimmed):
        raise OutOfRange(f"resource_version {resource_version} is older than the changes this server "
                         "keeps; start a new watch (without resource_version)")
    return resource_version


def _block_ms(redis: Redis, heartbeat_interval: float) -> int:
    """How long one read blocks: the heartbeat interval, but always inside the socket timeout."""
    socket_timeout = redis.connection_pool.connection_kwargs.get("socket_timeout")
    block = heartbeat_interval
    if socket_timeout:
        block = min(block, float(socket_timeout) * _BLOCK_SHARE_OF_SOCKET_TIMEOUT)
    return max(int(block * 1000), 1)


def _key(position: str) -> tuple[int, int]:
    milliseconds, sequence = position.split("-", 1)
    return int(milliseconds), int(sequence)


def _text(position: Any) -> str:
    return position.decode() if isinstance(position, bytes) else str(position)


def _event(fields: dict[Any, Any]) -> change_event_pb2.ChangeEvent | None:
    payload = fields.get(PAYLOAD_FIELD.encode(), fields.get(PAYLOAD_FIELD))
    if payload is None:
        return None
    try:
        return change_event_pb2.ChangeEvent.FromString(payload)
    except Exception:
        return None


def _named(repository: ResourceRepository[M, Any], name: str) -> M:
    resource = repository.message_type()
    setattr(resource, "name", name)  # noqa: B010 - generic over resource types
    return resource


def _name(resource: Message) -> str:
    value: str = getattr(resource, "name")  # noqa: B009 - generic over resource types
    return value


def _etag(resource: Message) -> str:
    value: str = getattr(resource, "etag")  # noqa: B009 - generic over resource types
    return value
