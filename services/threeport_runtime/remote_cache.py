"""A cache of another service's resources, fed by that service's change events.

A controller that re-reads what other services own on every reconcile (controller-runtime's
rule) pays a gRPC call per read even when nothing changed. ``RemoteCache`` keeps the last
message read per name (a bounded LRU, read-through); ``CacheFeed`` forgets entries when the
owner's change events arrive, and wires that into a ``ControllerSpec`` so that:

- an event forgets its entries **before** any key it maps to is queued (the invalidating watch
  of a stream comes first among that stream's watches, and the controller runs a stream's
  watches in order), so a reconcile woken by a change never reads the copy from before it;
- every replica hears every event (``CacheFeed.follow``: a plain ``XREAD`` of the fed streams,
  no consumer group), because the controller's group hands each event to one replica only,
  while any replica may reconcile a key next (a requeue timer). Whenever events may have gone
  by unseen, everything is forgotten: the reading failed (Redis restarted or unreachable), or
  a stream no longer holds the entry it was read up to (trimmed past it, deleted, flushed:
  the oldest entry left is newer, or none is left). A consumer group lost to a restart or a
  flush is one of these, seen by ``follow`` itself;
- a full resync (the periodic one, the one after a lost consumer group, a rebalance) does not
  clear the caches: it checks them (``CacheFeed.check``) with a few paged List calls per fed
  kind (``relist``) instead of one read per cached resource. A resource whose listed copy
  changed since the previous resync's listing (or appeared, or went), or that the caches hold
  something of but is not listed, is forgotten as its change event would have forgotten it:
  an event that was lost costs a stale copy until the next resync. Writes always change a
  resource's etag and update time, so a copy read between two listings that a later write made
  stale shows up as a changed listing. Everything is cleared instead when a List fails, when a
  kind has no listing to compare with (the first resync, after a failure), when a fed stream
  has no lister, or when more than ``max_forgets`` resources changed (cheaper than forgetting
  them one by one). A List that fails because its owner cannot be reached (an outage: the
  services of a plane start together, and the owner may not listen yet) is tried again with
  backoff for up to ``owner_patience`` seconds before the check gives up: a resync that gave up
  would queue every key with empty caches, and each reconcile would read what the listing
  would have filled one by one until the next resync;
- a cache whose entries are exactly the listed messages (by name: the owner's Get and List
  answer the same message) is then **filled** from the listing (``relist(..., fills=cache)``),
  so the first resync after a start, which can only clear, leaves the caches warm rather than
  cold, and a changed resource's listed copy replaces the one forgotten. A listing is a read in
  flight of every key it will list (``RemoteCache.begin_fill``, registered before the List
  starts): a key forgotten (or everything cleared) while it is under way is not filled, so an
  event that arrived during the List wins. A fill never replaces a held entry and never
  evicts: it takes the room left, as the least recently used entries; the rest is read when
  asked for. The resync waits for ``follow`` to start listening (whose start clears);
- a cache of answers its owner computes, which no listing holds (delivery's newest builds per
  application and environment), can be **prefilled** on a full resync (``prefill``): after the
  check, the keys it is missing are read in bulk (batch calls), with the same rule
  as a listing's fill (a key forgotten while the read is under way is not filled). A bulk read
  that fails fills nothing and forgets nothing: those keys are read one by one when asked for;
- a read that was in flight when its entry was forgotten is returned to its caller but not
  stored, so an answer from before a change never outlives the change's event;
- errors are never cached, and neither is "not found" (the loader raises; nothing is stored):
  a missing resource is asked for again on the next reconcile;
- each entry read from its owner (``get`` missing, ``refresh``) remembers when it was stored
  (``read_since``), so a caller that must confirm a copy before acting on it can tell one read
  from the owner during its own pass (nothing to confirm) from an older one; filled entries
  never count as such;
- a protobuf message is kept serialized, deflated against messages the cache packed before
  (``preset_deflate``), and parsed again on each read (``_Packed``): a parsed Application costs
  ~2.5 KB, its bytes ~0.3-0.8 KB, deflated a fraction of that, and delivery holds an
  application, a build listing and a claim per deployment (~45 MB parsed at 10,000); a read
  costs a few microseconds more. Every reader gets its own copy, so changing one changes
  nothing here.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

from google.protobuf.message import DecodeError, Message
from opentelemetry.metrics import Observation
from redis.asyncio import Redis
from redis.exceptions import RedisError

from threeport.common.v1alpha1 import change_event_pb2
from threeport_runtime import gauges
from threeport_runtime.bus.streams import PAYLOAD_FIELD
from threeport_runtime.outages import as_outage
from threeport_runtime.preset_deflate import PresetDeflate
from threeport_runtime.reconcile.controller import Watch
from threeport_runtime.reconcile.spec import ControllerSpec
from threeport_runtime.telemetry import meter

log = logging.getLogger(__name__)

Value = TypeVar("Value")
Event = change_event_pb2.ChangeEvent
Forget = Callable[[Event], None]
# Every resource of one kind the caches may hold something of, from its owner (paged List calls).
Lister = Callable[[], AsyncIterator[Message]]
# The names of that kind the caches hold something of (an entry, or an entry derived from it).
Held = Callable[[], Iterable[str]]
# Given a cache, (key, value) pairs of the keys it is missing, read in bulk from their owner.
Prefill = Callable[["RemoteCache[Any]"], AsyncIterator[tuple[str, Any]]]
# The pauses between a check's attempts to list from owners that cannot be reached.
OWNER_RETRY_FIRST = 0.5
OWNER_RETRY_MAX = 4.0


class _Packed(NamedTuple):
    """A cached message, serialized and deflated (see the module docstring)."""

    type: type[Message]
    packed: bytes


class Clearable(Protocol):
    def clear(self) -> None: ...


@dataclass
class _Load:
    """One read in flight; ``stale`` once its entry was forgotten meanwhile."""

    stale: bool = False


@dataclass
class Fill:
    """A listing in flight (``RemoteCache.begin_fill``), the loads of whatever keys it will list:
    what was forgotten since it began (keys, the predicates of ``forget_where``, or everything)."""

    forgotten: set[str] = field(default_factory=set)
    forgotten_where: list[Callable[[str], bool]] = field(default_factory=list)
    cleared: bool = False

    def stale(self, key: str) -> bool:
        return self.cleared or key in self.forgotten or any(matches(key) for matches in self.forgotten_where)


class RemoteCache(Generic[Value]):
    """The last message read per key, at most ``max_entries`` (least recently used go first)."""

    def __init__(self, name: str, max_entries: int):
        if max_entries < 1:
            raise ValueError(f"a cache holds at least one entry, not {max_entries}")
        self.name = name
        self.max_entries = max_entries
        self._entries: OrderedDict[str, Any] = OrderedDict()  # Value, or a _Packed message
        self._deflate = PresetDeflate()
        self._loaded_at: dict[str, float] = {}  # key -> time.time() it was stored from a load
        self._loading: dict[str, list[_Load]] = {}
        self._fills: list[Fill] = []
        self.hits = 0
        self.misses = 0
        self._reads = meter().create_counter(
            "threeport.remote_cache.reads", description="reads of other services' resources by cache and outcome"
        )
        gauges.observe("threeport.remote_cache.entries", self, lambda c: [Observation(len(c), {"cache": c.name})],
                       description="entries held by each cache of other services' resources")

    def __len__(self) -> int:
        return len(self._entries)

    def _pack(self, value: Any) -> Any:
        if isinstance(value, Message):
            return _Packed(type(value), self._deflate.deflate(value.SerializeToString()))
        return value

    def _unpack(self, entry: Any) -> Any:
        return entry.type.FromString(self._deflate.inflate(entry.packed)) if isinstance(entry, _Packed) else entry

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def cached_keys(self) -> list[str]:
        return list(self._entries)

    def cached_values(self) -> list[Value]:
        return [self._unpack(entry) for entry in self._entries.values()]

    async def get(self, key: str, load: Callable[[], Awaitable[Value]]) -> Value:
        """The cached value of ``key``, else ``load()``'s (stored unless forgotten meanwhile)."""
        if key in self._entries:
            self._entries.move_to_end(key)
            self.hits += 1
            self._reads.add(1, {"cache": self.name, "outcome": "hit"})
            return self._unpack(self._entries[key])  # type: ignore[no-any-return]
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
        self._entries[key] = self._pack(value)
        self._entries.move_to_end(key)
        self._loaded_at[key] = time.time()  # wall clock: compared with resources' create times
        while len(self._entries) > self.max_entries:
            evicted, _ = self._entries.popitem(last=False)
            self._loaded_at.pop(evicted, None)

    def peek(self, key: str) -> Value | None:
        """``key``'s entry, if held, without counting a use (its recency stays as it is)."""
        return self._unpack(self._entries[key]) if key in self._entries else None

    def read_since(self, key: str, since: float) -> Value | None:
        """``key``'s entry if it was read from its owner at or after ``since`` (seconds
        since the epoch); None when it was kept from before, filled from a listing,
        or is not held. Not a use: the entry's recency is left as it is."""
        if self._loaded_at.get(key, -1.0) < since:
            return None
        return self._unpack(self._entries[key])  # type: ignore[no-any-return]

    def begin_fill(self) -> Fill:
        """Registers a listing about to start, as a read in flight of every key it may list:
        what is forgotten from now on is not filled from it (``fill``)."""
        filling = Fill()
        self._fills.append(filling)
        return filling

    def end_fill(self, filling: Fill) -> None:
        """The listing is over: what is forgotten from now on no longer concerns it."""
        self._fills.remove(filling)

    def fill(self, filling: Fill, values: Iterable[tuple[str, Value]]) -> int:
        """Stores the listed ``values`` of keys this cache does not hold, but none forgotten since
        ``filling`` began (its copy may predate the change), and only while there is room: a
        fill never evicts (what does not fit is read when asked for). Filled entries are the
        least recently used, so reads evict them before anything a reconcile read. Held keys
        keep their entry (read as late as the listing, or later). Returns how many it stored."""
        stored = 0
        for key, value in values:
            if len(self._entries) >= self.max_entries:
                break
            if key in self._entries or filling.stale(key):
                continue
            self._entries[key] = self._pack(value)
            self._entries.move_to_end(key, last=False)
            stored += 1
        return stored

    def forget(self, key: str) -> None:
        """Drops ``key`` and marks reads of it in flight (listings' included) as stale."""
        self._entries.pop(key, None)
        self._loaded_at.pop(key, None)
        for pending in self._loading.get(key, ()):
            pending.stale = True
        for filling in self._fills:
            filling.forgotten.add(key)

    def forget_where(self, matches: Callable[[str], bool]) -> None:
        """Drops every key ``matches`` accepts (a scan: for rare events only)."""
        for key in [k for k in self._entries if matches(k)] + [k for k in self._loading if matches(k)]:
            self.forget(key)
        for filling in self._fills:
            filling.forgotten_where.append(matches)

    def clear(self) -> None:
        """Drops everything, including what reads and listings in flight would store."""
        self._entries.clear()
        self._loaded_at.clear()
        for loads in self._loading.values():
            for pending in loads:
                pending.stale = True
        for filling in self._fills:
            filling.cleared = True


@dataclass
class _Relist:
    """How one stream's kind is listed, and what its previous listing held (name -> fingerprint);
    ``fills``: the cache that holds each listed message as it is, under its name."""

    list_all: Lister
    held: Held
    fills: RemoteCache[Any] | None = None
    versions: dict[str, bytes] | None = None


@dataclass
class CacheFeed:
    """Which caches each stream's events invalidate, and how (``on``), how each stream's kind is
    listed to check them on a full resync (``relist``), wired into a controller (``wire``).
    ``caches`` are all cleared whenever they cannot be checked (see the module docstring)."""

    caches: list[Clearable] = field(default_factory=list)
    max_forgets: int = 256
    # Seconds a check keeps trying owners that cannot be reached before it clears everything.
    owner_patience: float = 30.0
    _forgets: dict[str, list[Forget]] = field(default_factory=dict)
    _relists: dict[str, _Relist] = field(default_factory=dict)
    _prefills: list[tuple[RemoteCache[Any], Prefill]] = field(default_factory=list)
    # A ``follow`` is running; ``_started``: it has tried to start listening (and cleared).
    _following: bool = False
    _started: asyncio.Event = field(default_factory=asyncio.Event)

    def on(self, stream: str, forget: Forget) -> None:
        """Every event on ``stream`` (of any change type) calls ``forget`` first."""
        self._forgets.setdefault(stream, []).append(forget)

    def relist(self, stream: str, list_all: Lister, held: Held, fills: RemoteCache[Any] | None = None) -> None:
        """On a full resync, ``list_all`` lists every resource of ``stream``'s kind the caches may
        hold something of, and ``held`` names those they do (see ``check``). ``fills``: a cache
        whose entries are exactly the listed messages, by name (the Get of a name answers what
        the List lists), filled from each listing (``RemoteCache.fill``)."""
        self._relists[stream] = _Relist(list_all, held, fills)

    def prefill(self, cache: RemoteCache[Any], read_missing: Prefill) -> None:
        """On a full resync, after the check, ``cache`` is filled with what ``read_missing(cache)``
        yields, (key, value) pairs of the keys it is missing, read in bulk from their owner
        (``RemoteCache.fill``: nothing forgotten meanwhile, no eviction)."""
        self._prefills.append((cache, read_missing))

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

    async def check(self) -> None:
        """Checks the caches against their owners' listings: forgets what changed since the
        previous listing (as its event would have), or clears everything when it cannot tell;
        then fills the ``fills`` caches with what was listed (not what an event forgot while
        the listing was under way)."""
        if self._following:
            await self._started.wait()  # listing before it listens would be cleared by its start
        fills = {stream: (relist.fills, relist.fills.begin_fill())
                 for stream, relist in self._relists.items() if relist.fills is not None}
        changed: dict[str, set[str]] = {}
        try:
            versions, listed = await self._list_patiently(keep=fills.keys())
            for stream, relist in self._relists.items():
                previous, relist.versions = relist.versions, versions[stream]
                if previous is not None:
                    now = versions[stream]
                    names = {n for n in now.keys() | previous.keys() if now.get(n) != previous.get(n)}
                    changed[stream] = names | (set(relist.held()) - now.keys())
        except Exception as error:  # whatever a List raised: unchecked copies are not kept
            for relist in self._relists.values():
                relist.versions = None
            log.warning("could not list what the caches hold; forgetting everything", extra={"error": str(error)})
            self.clear()
            return
        finally:
            # Over before this check's own forgets: they are the listing's news, not a change after it.
            for cache, filling in fills.values():
                cache.end_fill(filling)
        forgets = sum(len(names) for names in changed.values())
        if set(self._forgets) - changed.keys() or forgets > self.max_forgets:
            # A stream without a listing (none configured, or the first one), or many changes.
            self.clear()
        else:
            for stream, names in changed.items():
                for name in names:
                    self.handle(stream, Event(name=name, change=change_event_pb2.CHANGE_TYPE_UPDATED))
            if forgets:
                log.info("resync found changes whose events were not heard", extra={"resources": forgets})
        for stream, (cache, filling) in fills.items():
            cache.fill(filling, listed[stream].items())
        for cache, read_missing in self._prefills:
            await _prefill(cache, read_missing)

    async def _list_patiently(
        self, keep: Iterable[str]
    ) -> tuple[dict[str, dict[str, bytes]], dict[str, dict[str, Message]]]:
        """``_list``, tried again with backoff while an owner cannot be reached, for up to
        ``owner_patience`` seconds; any other error, or one past that, is raised."""
        deadline = time.monotonic() + self.owner_patience
        pause = OWNER_RETRY_FIRST
        while True:
            try:
                return await self._list(set(keep))
            except Exception as error:
                if as_outage(error) is None or time.monotonic() + pause > deadline:
                    raise
                log.info("the owners of cached resources cannot be reached yet; the resync waits for them",
                         extra={"error": str(error), "retry_in": pause})
            await asyncio.sleep(random.uniform(pause / 2, pause))
            pause = min(2 * pause, OWNER_RETRY_MAX)

    async def _list(self, keep: set[str]) -> tuple[dict[str, dict[str, bytes]], dict[str, dict[str, Message]]]:
        """Every relisted stream's resources, listed from their owners: a fingerprint per name, and
        the messages themselves for the streams in ``keep`` (those that fill a cache)."""
        versions: dict[str, dict[str, bytes]] = {}
        listed: dict[str, dict[str, Message]] = {}
        for stream, relist in self._relists.items():
            fingerprints = versions[stream] = {}
            messages = listed.setdefault(stream, {}) if stream in keep else None
            async for message in relist.list_all():
                name = getattr(message, "name")  # noqa: B009
                fingerprints[name] = _fingerprint(message)
                if messages is not None:
                    messages[name] = message
        return versions, listed

    async def follow(self, redis: Redis, *, block_ms: int = 5_000, retry_after: float = 0.5) -> None:
        """Forgets what every event on the fed streams says changed, until cancelled (this
        replica's own reading: see the module docstring). It starts from each stream's newest
        entry and then forgets everything, so nothing read before it listened is kept."""
        self._following = True
        try:
            await self._follow(redis, block_ms, retry_after)
        finally:
            self._following = False

    async def _follow(self, redis: Redis, block_ms: int, retry_after: float) -> None:
        last: dict[str, str | bytes] | None = None
        while True:
            try:
                if last is None:
                    last = {stream: await _newest_id(redis, stream) for stream in self._forgets}
                    self.clear()
                    self._started.set()
                since = dict(last)
                response: Any = await redis.xread(last, count=256, block=block_ms)  # type: ignore[arg-type]
                gone = await _passed(redis, since)
            except (RedisError, OSError) as error:
                log.warning("lost the change events that keep caches fresh; forgetting everything",
                            extra={"error": str(error)})
                self.clear()
                self._started.set()  # a resync need not wait: what it fills is cleared when this starts
                await asyncio.sleep(retry_after)
                continue
            for stream, messages in response or []:
                name = stream.decode() if isinstance(stream, bytes) else str(stream)
                for message_id, fields in messages:
                    last[name] = message_id
                    self._handle_message(name, fields)
            if gone:
                log.warning("change events were dropped from a stream before they were read; forgetting everything",
                            extra={"streams": sorted(gone)})
                self.clear()
                for stream, emptied in gone.items():
                    if emptied:  # deleted or flushed: whatever comes next is read from its start
                        last[stream] = "0-0"

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
        """``spec`` with an invalidating watch first on each fed stream and a resync that checks
        the caches (``check``) before it queues a key. (Owned resources become the equivalent
        ``Watch``es, placed after the invalidating ones.)"""
        if spec.for_.stream in self._forgets:
            raise ValueError("a controller's own resource is read from its own store, never cached")
        invalidating = [Watch(stream, keys=self._keys_forgetting(stream)) for stream in self._forgets]
        return replace(  # replace: whatever else the spec says is kept
            spec,
            for_=replace(spec.for_, list_keys=self._checking(spec.for_.list_keys)),
            owns=(),
            watches=[*invalidating, *(owned.watch() for owned in spec.owns), *spec.watches],
        )

    def _keys_forgetting(self, stream: str) -> Callable[[Event], Awaitable[Iterable[str]]]:
        async def forget(event: Event) -> Iterable[str]:
            self.handle(stream, event)
            return ()

        return forget

    def _checking(self, list_keys: Callable[[], AsyncIterator[str]]) -> Callable[[], AsyncIterator[str]]:
        async def keys() -> AsyncIterator[str]:
            await self.check()
            async for key in list_keys():
                yield key

        return keys


async def _prefill(cache: RemoteCache[Any], read_missing: Prefill) -> None:
    """Fills ``cache`` with what ``read_missing`` reads of the keys it is missing; a failed read
    fills nothing (those keys are read one by one when asked for)."""
    filling = cache.begin_fill()
    try:
        values = [pair async for pair in read_missing(cache)]
    except Exception as error:  # whatever the owner's call raised: nothing is lost but the shortcut
        log.warning("could not read the missing entries in bulk; they are read when asked for",
                    extra={"cache": cache.name, "error": str(error)})
        return
    finally:
        cache.end_fill(filling)
    cache.fill(filling, values)


def _fingerprint(message: Message) -> bytes:
    return hashlib.blake2b(message.SerializeToString(deterministic=True), digest_size=16).digest()


def _entry_id(value: str | bytes) -> tuple[int, int]:
    text = value.decode() if isinstance(value, bytes) else value
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


async def _passed(redis: Redis, positions: dict[str, str | bytes]) -> dict[str, bool]:
    """The streams that no longer hold the entry each was read up to, nor any before it: what
    came after it may have been dropped unread (trimmed, deleted, flushed). True: none is left.
    A stream read from its start ("0-0") has nothing to lose."""
    read = {stream: position for stream, position in positions.items() if _entry_id(position) != (0, 0)}
    if not read:
        return {}
    async with redis.pipeline(transaction=False) as pipeline:
        for stream in read:
            pipeline.xrange(stream, count=1)
        oldest: list[Any] = await pipeline.execute()
    return {stream: not entries for (stream, position), entries in zip(read.items(), oldest, strict=True)
            if not entries or _entry_id(entries[0][0]) > _entry_id(position)}


async def _newest_id(redis: Redis, stream: str) -> str | bytes:
    """Where reading ``stream`` from now on starts ("0-0" for an empty or missing stream)."""
    newest: Any = await redis.xrevrange(stream, count=1)
    return newest[0][0] if newest else "0-0"
