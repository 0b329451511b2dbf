"""A cache of another service's resources, fed by that service's change events.

A controller that re-reads what other services own on every reconcile (controller-runtime's
rule) pays a gRPC call per read even when nothing changed. ``RemoteCache`` keeps the last
message read per name (a bounded LRU, read-through); ``CacheFeed`` forgets entries when the
owner's change events arrive, and wires that into a ``ControllerSpec`` so that:

- an event forgets its entries **before** any key it maps to is queued (the invalidating watch
  of a stream comes first among that stream's watches, and the controller runs a stream's
  watches in order), so a reconcile woken by a change never reads the copy from before it;
- every full resync (the periodic one, and the one after a consumer group was lost: Redis
  restarted or flushed) clears every cache before queuing keys. Events are hints: one that was
  lost (a trimmed stream, a lost group) costs a stale copy until the next resync, which re-reads
  each resource once;
- a read that was in flight when its entry was forgotten is returned to its caller but not
  stored, so an answer from before a change never outlives the change's event;
- errors are never cached, and neither is "not found" (the loader raises; nothing is stored):
  a missing resource is asked for again on the next reconcile;
- every replica hears every event (``CacheFeed.follow``: a plain ``XREAD`` of the fed streams,
  no consumer group), because the controller's group hands each event to one replica only,
  while any replica may reconcile a key next (a requeue timer). Whenever that reading fails
  (Redis restarted or unreachable) events may have gone by unseen, so everything is forgotten.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Generic, Protocol, TypeVar

from google.protobuf.message import DecodeError
from opentelemetry.metrics import Observation
from redis.asyncio import Redis
from redis.exceptions import RedisError

from threeport.common.v1alpha1 import change_event_pb2
from threeport_runtime import gauges
from threeport_runtime.bus.streams import PAYLOAD_FIELD
from threeport_runtime.reconcile.controller import Watch
from threeport_runtime.reconcile.spec import ControllerSpec
from threeport_runtime.telemetry import meter

log = logging.getLogger(__name__)

Value = TypeVar("Value")
Event = change_event_pb2.ChangeEvent
Forget = Callable[[Event], None]


class Clearable(Protocol):
    def clear(self) -> None: ...


@dataclass
class _Load:
    """One read in flight; ``stale`` once its entry was forgotten meanwhile."""

    stale: bool = False


class RemoteCache(Generic[Value]):
    """The last message read per key, at most ``max_entries`` (least recently used go first)."""

    def __init__(self, name: str, max_entries: int):
        if max_entries < 1:
            raise ValueError(f"a cache holds at least one entry, not {max_entries}")
        self.name = name
        self.max_entries = max_entries
        self._entries: OrderedDict[str, Value] = OrderedDict()
        self._loading: dict[str, list[_Load]] = {}
        self.hits = 0
        self.misses = 0
        self._reads = meter().create_counter(
            "threeport.remote_cache.reads", description="reads of other services' resources by cache and outcome"
        )
        gauges.observe("threeport.remote_cache.entries", self, lambda c: [Observation(len(c), {"cache": c.name})],
                       description="entries held by each cache of other services' resources")

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    async def get(self, key: str, load: Callable[[], Awaitable[Value]]) -> Value:
        """The cached value of ``key``, else ``load()``'s (stored unless forgotten meanwhile)."""
        if key in self._entries:
            self._entries.move_to_end(key)
            self.hits += 1
            self._reads.add(1, {"cache": self.name, "outcome": "hit"})
            return self._entries[key]
        self.misses += 1
        self._reads.add(1, {"cache": self.name, "outcome": "miss"})
        return await self._load(key, load)

    async def refresh(self, key: str, load: Callable[[], Awaitable[Value]]) -> Value:
        """``load()``'s value of ``key``, whatever is cached, stored in its place (unless forgotten
        meanwhile): to confirm a cached copy with its owner before acting on it."""
        self._reads.add(1, {"cache": self.name, "outcome": "refresh"})
        return await self._load(key, load)

    async def _load(self, key: str, load: Callable[[], Awaitable[Value]]) -> Value:
        pending = _Load()
        self._loading.setdefault(key, []).append(pending)
        try:
            value = await load()
        finally:
            loads = self._loading[key]
            loads.remove(pending)
            if not loads:
                del self._loading[key]
        if not pending.stale:
            self._store(key, value)
        return value

    def _store(self, key: str, value: Value) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def forget(self, key: str) -> None:
        """Drops ``key`` and marks reads of it in flight as stale."""
        self._entries.pop(key, None)
        for pending in self._loading.get(key, ()):
            pending.stale = True

    def forget_where(self, matches: Callable[[str], bool]) -> None:
        """Drops every key ``matches`` accepts (a scan: for rare events only)."""
        for key in [k for k in self._entries if matches(k)] + [k for k in self._loading if matches(k)]:
            self.forget(key)

    def clear(self) -> None:
        """Drops everything, including what reads in flight would store."""
        self._entries.clear()
        for loads in self._loading.values():
            for pending in loads:
                pending.stale = True


@dataclass
class CacheFeed:
    """Which caches each stream's events invalidate, and how (``on``), wired into a controller
    (``wire``). ``caches`` are all cleared on every full resync."""

    caches: list[Clearable] = field(default_factory=list)
    _forgets: dict[str, list[Forget]] = field(default_factory=dict)

    def on(self, stream: str, forget: Forget) -> None:
        """Every event on ``stream`` (of any change type) calls ``forget`` first."""
        self._forgets.setdefault(stream, []).append(forget)

    def track(self, *caches: Clearable) -> None:
        self.caches.extend(caches)

    @property
    def streams(self) -> list[str]:
        return list(self._forgets)

    def handle(self, stream: str, event: Event) -> None:
        for forget in self._forgets.get(stream, ()):
            forget(event)

    def clear(self) -> None:
        for cache in self.caches:
            cache.clear()

    async def follow(self, redis: Redis, *, block_ms: int = 5_000, retry_after: float = 0.5) -> None:
        """Forgets what every event on the fed streams says changed, until cancelled (this
        replica's own reading: see the module docstring). It starts from each stream's newest
        entry and then forgets everything, so nothing read before it listened is kept."""
        last: dict[str, str | bytes] | None = None
        while True:
            try:
                if last is None:
                    last = {stream: await _newest_id(redis, stream) for stream in self._forgets}
                    self.clear()
                response: Any = await redis.xread(last, count=256, block=block_ms)  # type: ignore[arg-type]
            except (RedisError, OSError) as error:
                log.warning("lost the change events that keep caches fresh; forgetting everything",
                            extra={"error": str(error)})
                self.clear()
                await asyncio.sleep(retry_after)
                continue
            for stream, messages in response or []:
                name = stream.decode() if isinstance(stream, bytes) else str(stream)
                for message_id, fields in messages:
                    last[name] = message_id
                    self._handle_message(name, fields)

    def _handle_message(self, stream: str, fields: dict[Any, Any]) -> None:
        payload = fields.get(PAYLOAD_FIELD.encode())
        try:
            event = Event.FromString(payload) if payload is not None else None
        except DecodeError:
            event = None
        if event is None or not event.name:
            return  # the controller's consumer dead-letters what cannot be read
        self.handle(stream, event)

    def wire(self, spec: ControllerSpec) -> ControllerSpec:
        """``spec`` with an invalidating watch first on each fed stream and a resync that clears
        every cache before it queues a key. (Owned resources become the equivalent ``Watch``es,
        placed after the invalidating ones.)"""
        if spec.for_.stream in self._forgets:
            raise ValueError("a controller's own resource is read from its own store, never cached")
        invalidating = [Watch(stream, keys=self._keys_forgetting(stream)) for stream in self._forgets]
        return replace(  # replace: whatever else the spec says is kept
            spec,
            for_=replace(spec.for_, list_keys=self._clearing(spec.for_.list_keys)),
            owns=(),
            watches=[*invalidating, *(owned.watch() for owned in spec.owns), *spec.watches],
        )

    def _keys_forgetting(self, stream: str) -> Callable[[Event], Awaitable[Iterable[str]]]:
        async def forget(event: Event) -> Iterable[str]:
            self.handle(stream, event)
            return ()

        return forget

    def _clearing(self, list_keys: Callable[[], AsyncIterator[str]]) -> Callable[[], AsyncIterator[str]]:
        async def keys() -> AsyncIterator[str]:
            self.clear()
            async for key in list_keys():
                yield key

        return keys


async def _newest_id(redis: Redis, stream: str) -> str | bytes:
    """Where reading ``stream`` from now on starts ("0-0" for an empty or missing stream)."""
    newest: Any = await redis.xrevrange(stream, count=1)
    return newest[0][0] if newest else "0-0"
