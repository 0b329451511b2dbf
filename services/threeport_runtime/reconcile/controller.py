"""The controller: watches streams, queues keys, and reconciles them with N workers.

Reconcilers follow controller-runtime: ``reconcile(name)`` receives only the resource name,
re-reads everything it needs, converges, and returns ``Result`` or raises. Events only say
*which* keys to look at; the periodic jittered resync of every key (``list_keys``) makes a lost
event cost latency, never correctness. A periodic resync leaves out the keys this replica has
reconciled successfully since the previous periodic resync began: they were level-checked
within an interval already, and a lost event still costs at most two intervals. Without that,
10,000 keys converging for an hour were reconciled 14 more times each by resyncs (164,381
delivery reconciles for 10,000 deployments), competing with the work. A resync asked for (a
lost consumer group, ``request_resync``, the first after start) queues every key. The first
lists only once the consumer groups exist: a new group starts at the end of its streams, and a
change made between the list and the group's creation would otherwise reach nobody.
Resyncs queue their keys at low priority (``queue.LOW``),
so an event, a requeue or a retry is not stuck behind thousands of unchanged keys; a resource's
own CREATED event queues it at ``queue.NEW``, behind the work of resources already under way
(a key sent to another replica's inbox is queued there at the priority it was sent with).

Replicas share the work, not every key. Each registers in the controller's live membership
(``membership``) and owns the keys rendezvous hashing gives it over the live members:

- its periodic resync and the resync after a consumer reset queue only the keys it owns (the
  first resync after start still queues every key);
- an event its consumer-group reader receives for a key another member owns goes to that
  member's inbox (``inbox``); ``enqueue`` does the same, and ``wake`` (a change every replica
  observes alike, e.g. its own watch of a cluster) queues only owned keys;
- requeue timers and backoff retries that fire for a key another member owns now are dropped
  (that member queued the key when it came to own it), and a failure of a key this replica does
  not own is sent to the owner rather than retried here;
- when the members change, it queues the keys it has just come to own, so a dead replica's share
  is resynced by the survivors within one heartbeat of its expiry, and it sends again the keys
  it lately sent to a departed member's inbox (events the dead member never read).

Inboxes rather than every replica reading every stream: an event's keys are computed once
(``Watch.keys`` may read the database) and the consumer group keeps its delivery guarantees
(pending entries, claims, dead letters); a routed key costs one Redis round trip per event.

Fencing. Status writes carry a token (``db.fencing``) and a row refuses a token older than the
one that wrote it, so a replica that lost a key cannot overwrite its new owner's writes. A key
this replica owns in a *settled* view (``Membership.settled``: the last heartbeat answered within
``membership_ttl`` and the members have not changed for ``membership_ttl``) is reconciled under
the token drawn with that view, with no per-key lease and no Redis call. Every other reconcile
(the view just changed or is not current, the key is not owned, Redis is away) takes the per-key
lease as before, whose token comes from the same counter. The orderings:

- Tokens come from one counter, and a heartbeat takes its token in the same script that reads
  the members: the counter's value then, drawn anew when the members differ from those the last
  token was drawn with or when anything (a lease) drew since, so an idle heartbeat draws nothing
  (``membership``). A heartbeat's token is thus at least every token drawn before it and below
  every token drawn after it (as when every heartbeat drew), shared only by replicas that read
  the same members: any token drawn after a member joined or was dropped is higher than every
  token drawn with a view from before. A replica that has not seen the change yet (its
  heartbeat is up to ``membership_heartbeat`` late, or it stalled) still writes with its older
  token; the new owner's token (the lease's, while its own view is unsettled, or its next
  view's) is higher, so whichever of them writes second, the older token never overwrites the
  newer: a late write fails with StaleFence, an early one is overwritten by the new owner's
  reconcile, which re-reads.
- A lease drawn for one of its keys (its own while its view was unsettled, another replica's
  that reconciled a key it does not own) is below the owner's next heartbeat's token, so the
  owner's settled writes are refused for at most a heartbeat, and the owner tries again after
  one. Were the token kept while the members look unchanged, they would be refused until the
  members next change. The same holds for leases this replica drew itself while its view was
  unsettled: a view settles by time, between heartbeats, so those drawn since its last
  heartbeat are above its token, and their keys' first settled writes are refused and retried.
  (Not settling until a heartbeat above every lease drawn was tried and left out: under load a
  lease drawn during each heartbeat's round trip kept a replica in lease mode.)
- A member that joins owns nothing settled for ``membership_ttl``; by then every live replica has
  seen it (heartbeats are more frequent than the TTL), so settled views agree on the owner.
- The old owner may still be inside a reconcile it started before it saw the change, so both can
  run one key at once for that reconcile's length: the fence, not the lease, is what keeps
  that safe (reconcilers converge and re-read; a losing write is refused).
- A member dropped after its TTL may still be alive but stalled: its view's token is older than
  the survivors' (their heartbeat that dropped it ran after its last one), so its writes fail.
- Redis away: the heartbeat fails and the view stops being settled after ``membership_ttl``;
  reconciles then need the lease and wait for Redis, as before. An event for a key owned
  elsewhere that cannot be sent is reconciled here under the lease.

A single replica (what ``tptctl up`` runs) owns every key: events and timers are queued locally,
and once its view settled (``membership_ttl`` after start) its reconciles make no Redis call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.metrics import Observation
from redis.asyncio import Redis
from redis.exceptions import RedisError

from threeport.common.v1alpha1 import change_event_pb2
from threeport_runtime import gauges
from threeport_runtime.bus.consumer import StreamConsumer
from threeport_runtime.bus.streams import dead_letter_stream
from threeport_runtime.db.fencing import current_fence
from threeport_runtime.db.repository import StaleFence
from threeport_runtime.logs import resource_context
from threeport_runtime.outages import as_outage
from threeport_runtime.reconcile.inbox import Inboxes
from threeport_runtime.reconcile.lease import Leases
from threeport_runtime.reconcile.membership import Membership, owner_of
from threeport_runtime.reconcile.queue import LOW, NEW, NORMAL, WorkQueue
from threeport_runtime.reconcile.result import PermanentError, Result, TemporaryError
from threeport_runtime.tasks import cancel_and_wait, run_together
from threeport_runtime.telemetry import context_from_traceparent, meter, tracer

log = logging.getLogger(__name__)

Reconciler = Callable[[str], Coroutine[Any, Any, Result | None]]
KeysFromEvent = Callable[[change_event_pb2.ChangeEvent], Awaitable[Iterable[str]]]
ListKeys = Callable[[], AsyncIterator[str]]
PermanentErrorHandler = Callable[[str, PermanentError], Awaitable[None]]


# What a controller usually watches on its own resource: its own status writes are left out,
# as they never need another reconcile.
SPEC_AND_LIFECYCLE_CHANGES: frozenset[change_event_pb2.ChangeType.ValueType] = frozenset(
    {
        change_event_pb2.CHANGE_TYPE_CREATED,
        change_event_pb2.CHANGE_TYPE_UPDATED,
        change_event_pb2.CHANGE_TYPE_DELETE_REQUESTED,
        change_event_pb2.CHANGE_TYPE_DELETED,
    }
)


@dataclass(frozen=True)
class Watch:
    """A stream whose events enqueue keys: by default the event's own resource name."""

    stream: str
    keys: KeysFromEvent | None = None
    changes: frozenset[change_event_pb2.ChangeType.ValueType] | None = None


@dataclass(frozen=True)
class ControllerOptions:
    workers: int = 4
    resync_interval: float = 300.0
    lease_ttl: float = 15.0
    max_deliveries: int = 5
    claim_idle_ms: int = 30_000
    claim_interval: float = 5.0
    backoff_base: float = 0.05
    backoff_max: float = 60.0
    # Live membership (see ``membership``): a replica heartbeats every `membership_heartbeat`
    # seconds and is dropped by the others `membership_ttl` seconds after its last one.
    membership_heartbeat: float = 5.0
    membership_ttl: float = 15.0
    # A reconcile still running after this many seconds is cancelled and retried with backoff:
    # a reply that never comes (a database or API server connection gone silent) must not hold
    # its key forever. Reconcilers never wait for long themselves (they requeue), so this only
    # bounds a hang.
    reconcile_timeout: float = 300.0


class Controller:
    def __init__(
        self,
        name: str,
        reconcile: Reconciler,
        *,
        redis: Redis,
        stream_prefix: str,
        watches: Sequence[Watch],
        list_keys: ListKeys,
        on_permanent_error: PermanentErrorHandler | None = None,
        options: ControllerOptions = ControllerOptions(),
    ):
        self.name = name
        self._reconcile = reconcile
        # Several watches may share a stream (e.g. a resource that is both watched and owned).
        self._watches: dict[str, list[Watch]] = {}
        for watch in watches:
            self._watches.setdefault(watch.stream, []).append(watch)
        self._list_keys = list_keys
        self._on_permanent_error = on_permanent_error
        self._options = options
        self.queue = WorkQueue(base_delay=options.backoff_base, max_delay=options.backoff_max, keep=self._keep_timer)
        self.leases = Leases(redis, namespace=f"{stream_prefix}{name}:", ttl=options.lease_ttl)
        self._trace_links: dict[str, str] = {}
        self.consumer = StreamConsumer(
            redis,
            streams=list(self._watches),
            group=name,
            handler=self._on_event,
            dead_letter_stream=dead_letter_stream(stream_prefix, name),
            on_reset=self._resync_after_reset,
            max_deliveries=options.max_deliveries,
            claim_idle_ms=options.claim_idle_ms,
            claim_interval=options.claim_interval,
        )
        # Set when another replica asks for a full resync (it re-created a lost consumer group).
        self._resync_requested = asyncio.Event()
        # When each key was last reconciled successfully here (monotonic): a periodic resync
        # leaves out those checked since the previous one began.
        self._checked: dict[str, float] = {}
        self.membership = Membership(
            redis,
            key=f"{stream_prefix}{name}:members",
            resync_key=f"{stream_prefix}{name}:resync",
            fence_key=self.leases.fence_key,
            member=self.consumer.consumer,
            heartbeat=options.membership_heartbeat,
            ttl=options.membership_ttl,
            on_change=self._members_changed,
            on_resync_requested=self._resync_requested.set,
        )
        self.inboxes = Inboxes(
            redis, prefix=f"{stream_prefix}{name}:inbox:", member=self.consumer.consumer, ttl=options.membership_ttl
        )
        # Keys lately sent to each member's inbox (key -> when), sent again if it departs.
        self._sent: dict[str, dict[str, float]] = {}
        self._sending: set[asyncio.Task[None]] = set()
        # Not owned, but retried here after their backoff: Redis refused to send them.
        self._kept: set[str] = set()
        # Membership changes waiting for their keys to be queued (previous, current members).
        self._rebalances: asyncio.Queue[tuple[tuple[str, ...], tuple[str, ...]]] = asyncio.Queue()
        instruments = meter()
        self._reconciles = instruments.create_counter(
            "threeport.reconcile.count", description="reconciles by controller and outcome"
        )
        self._duration = instruments.create_histogram("threeport.reconcile.duration", unit="s")
        # Through `gauges`: OpenTelemetry would observe only the first controller of a process.
        gauges.observe("threeport.reconcile.queue_depth", self, lambda c: [_observation(len(c.queue), c.name)])
        # The live replicas this one counts (the resync is shared among them).
        gauges.observe(
            "threeport.reconcile.members", self, lambda c: [_observation(len(c.membership.members), c.name)]
        )

    @property
    def watched_streams(self) -> list[str]:
        """The streams this controller's consumer group reads (for the bus backlog metrics)."""
        return list(self._watches)

    async def run(self) -> None:
        """Runs the consumer, the resync loop and the workers until cancelled."""
        await run_together(
            asyncio.create_task(self.membership.run(), name=f"{self.name} membership"),
            asyncio.create_task(self.consumer.run(), name=f"{self.name} consumer"),
            asyncio.create_task(self.inboxes.run(self._received), name=f"{self.name} inbox"),
            asyncio.create_task(self._resync_forever(), name=f"{self.name} resync"),
            asyncio.create_task(self._rebalance_forever(), name=f"{self.name} rebalance"),
            *(
                asyncio.create_task(self._work_forever(), name=f"{self.name} worker {index}")
                for index in range(self._options.workers)
            ),
        )

    def enqueue(self, key: str, after: float = 0.0) -> None:
        """Queues ``key`` here if this replica owns it (``after`` seconds from now: requests within
        that time make one pass), else sends it to its owner (in the background), which queues it
        at once."""
        if self.membership.owns(key):
            self.queue.add_after(key, after)
            return
        task = asyncio.get_running_loop().create_task(self._route([key]))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    def wake(self, key: str) -> None:
        """Like ``enqueue``, for a change every replica observes alike (each watches the clusters
        of the keys it reconciled): only the owner queues it. While the view is unsettled every
        replica does, as replicas may disagree about the owner."""
        if self.membership.owns(key) or not self.membership.settled():
            self.queue.add(key)

    async def resync(self, *, everything: bool = False, checked_since: float | None = None) -> None:
        """Queues every key this replica owns (all of them when it runs alone, or asked to), at low
        priority: a listing says nothing changed, so events queued meanwhile run first.
        ``checked_since`` (monotonic): keys reconciled successfully here since then are left out."""
        owned = listed = skipped = 0
        began = time.monotonic()
        still: dict[str, float] = {}
        async for key in self._list_keys():
            listed += 1
            if (at := self._checked.get(key)) is not None:
                still[key] = at
            if not everything and not self.membership.owns(key):
                continue
            if checked_since is not None and at is not None and at >= checked_since:
                skipped += 1
                continue
            self.queue.add(key, LOW)
            owned += 1
        # Keys no longer listed (deleted) are forgotten; those reconciled during the listing stay.
        self._checked = {**still, **{key: at for key, at in self._checked.items() if at >= began}}
        log.info(
            "resync queued keys",
            extra={"controller": self.name, "keys": owned, "listed": listed, "checked_lately": skipped,
                   "members": len(self.membership.members)},
        )

    async def _resync_after_reset(self) -> None:
        # Only this replica's consumer saw the lost group: the others resync their shares when
        # their heartbeat sees the request.
        await self.resync()
        await self.membership.request_resync()

    def _members_changed(self, previous: tuple[str, ...], current: tuple[str, ...]) -> None:
        self._rebalances.put_nowait((previous, current))

    async def _rebalance_forever(self) -> None:
        """Queues the keys each membership change gave this replica (a departed member's share),
        and sends again what was lately sent to a departed member's inbox."""
        while True:
            previous, current = await self._rebalances.get()
            for departed in set(previous) - set(current):
                await self._route(self._forget_sent(departed))
            mine = self.membership.member
            if previous == (mine,) and mine in current:
                continue  # Joining others, or Redis answering at last: this replica only gave keys away.
            try:
                gained = listed = 0
                async for key in self._list_keys():
                    listed += 1
                    if owner_of(key, current) == mine and owner_of(key, previous) != mine:
                        # A resync of the share gained, at low priority like any resync: what
                        # the departed member had queued but not reconciled waits behind the
                        # events that arrive meanwhile rather than delaying them (its unread
                        # inbox and pending stream entries come again as events).
                        self.queue.add(key, LOW)
                        gained += 1
            except Exception:
                # Listing failed (the database is away): try again, or a dead replica's keys
                # would wait for the next periodic resync. Re-queueing a key is harmless.
                log.exception("rebalance failed; will retry", extra={"controller": self.name})
                await asyncio.sleep(random.uniform(1.0, 2.0))
                self._rebalances.put_nowait((previous, current))
                continue
            log.info(
                "rebalance queued newly owned keys",
                extra={"controller": self.name, "keys": gained, "listed": listed, "members": len(current)},
            )

    async def _route(
        self, keys: Iterable[str], traceparent: str = "", *, retry: bool = False, priority: int = NORMAL
    ) -> None:
        """Queues the keys this replica owns (at ``priority``) and sends the others to their
        owners' inboxes (``retry``: after a failure here, so a key that cannot be sent waits for
        its backoff)."""
        members = self.membership.members
        mine = self.membership.member
        elsewhere: dict[str, list[str]] = {}
        for key in keys:
            owner = mine if len(members) == 1 else owner_of(key, members)
            if owner == mine:
                self._queue_here(key, traceparent, priority)
            else:
                elsewhere.setdefault(owner, []).append(key)
        for owner, owned in elsewhere.items():
            try:
                await self.inboxes.send(owner, owned, traceparent, priority)
            except (RedisError, OSError) as exc:
                # Redis is away: reconcile them here, under the lease (not owned), rather than lose them.
                log.warning("could not send keys to their owner", extra={"keys": len(owned), "error": str(exc)})
                for key in owned:
                    if retry:
                        self._kept.add(key)  # its timer must fire here although another owns it
                        self.queue.add_rate_limited(key)
                    else:
                        self._queue_here(key, traceparent)
                continue
            self._remember_sent(owner, owned)

    def _remember_sent(self, owner: str, keys: list[str]) -> None:
        now = time.monotonic()
        sent = self._sent.setdefault(owner, {})
        for key in keys:
            sent.pop(key, None)
            sent[key] = now  # insertion order is age order
        # Older than a member's registration lasts: had it died before reading them, the
        # survivors would have seen it gone (and resynced its share) after they were sent.
        horizon = now - 2 * self._options.membership_ttl
        while sent and next(iter(sent.values())) < horizon:
            sent.pop(next(iter(sent)))

    def _forget_sent(self, member: str) -> list[str]:
        horizon = time.monotonic() - 2 * self._options.membership_ttl
        return [key for key, at in self._sent.pop(member, {}).items() if at >= horizon]

    def _received(self, key: str, traceparent: str, priority: int = NORMAL) -> None:
        # Sent by a replica that counts this one as the owner: queued here whatever this
        # replica's view says (sending on again could bounce while views disagree for a
        # heartbeat); a key this replica does not own runs under the lease. At the priority the
        # sender gave it (NEW for a created resource), never above NORMAL.
        self._queue_here(key, traceparent, min(priority, NORMAL))

    def _queue_here(self, key: str, traceparent: str, priority: int = NORMAL) -> None:
        if traceparent:
            self._trace_links[key] = traceparent
        self.queue.add(key, priority)

    def _keep_timer(self, key: str) -> bool:
        """A requeue timer or retry that fires for a key another replica owns now is dropped:
        that replica queued the key when it came to own it. A key that could not be sent to its
        owner is kept."""
        if key in self._kept:
            self._kept.discard(key)
            return True
        return self.membership.owns(key)

    async def _resync_forever(self) -> None:
        # The first resync after start queues every key, as a lone replica always did: a
        # predecessor that was killed stays registered for up to `membership_ttl`, and its
        # share would wait for that.
        everything, requested = True, False
        previous: float | None = None  # when the previous periodic resync began
        # A new group starts at the end of its streams: a change made after the first list and
        # before the group existed would reach nobody until the next resync (minutes). So the
        # list waits for the groups, as an informer lists only once its watch can follow.
        await self.consumer.ready.wait()
        while True:
            began = time.monotonic()
            try:
                await self.resync(everything=everything, checked_since=None if requested else previous)
                everything = False
            except Exception as error:
                level = _failure_level(error)
                log.log(level, "resync failed; will retry", exc_info=level == logging.ERROR,
                        extra={"controller": self.name, "error": str(error)})
            previous = began
            interval = self._options.resync_interval
            requested = False
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(random.uniform(0.9 * interval, 1.1 * interval)):
                    await self._resync_requested.wait()
                    requested = True
            self._resync_requested.clear()

    async def _on_event(self, stream: str, event: change_event_pb2.ChangeEvent) -> None:
        for watch in self._watches[stream]:
            if watch.changes is not None and event.change not in watch.changes:
                continue
            keys = [event.name] if watch.keys is None else await watch.keys(event)
            created = watch.keys is None and event.change == change_event_pb2.CHANGE_TYPE_CREATED
            await self._route(keys, event.traceparent, priority=NEW if created else NORMAL)

    async def _work_forever(self) -> None:
        while True:
            key = await self.queue.get()
            try:
                await self._process(key)
            except Exception:
                log.exception("unexpected controller failure", extra={"controller": self.name, "key": key})
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)

    async def _process(self, key: str) -> None:
        if self.membership.settled() and self.membership.owns(key):
            # Owned in a settled view: fenced by the token drawn with the view, no Redis call.
            fence = self.membership.fence
            assert fence is not None  # settled() says so
            await self._reconcile_fenced(key, fence, leased=False)
            return
        try:
            token = await self.leases.acquire(key)
        except (RedisError, OSError) as exc:
            log.warning("lease unavailable; retrying", extra={"key": key, "error": str(exc)})
            await self._retry(key)
            return
        if token is None:
            # Another replica is reconciling it; look again once it is likely done.
            if self.membership.owns(key):
                retry = min(1.0, self.leases.ttl / 3)
                self.queue.add_after(key, random.uniform(retry / 2, retry))
            else:
                await self._retry(key)
            return
        try:
            await self._reconcile_fenced(key, token, leased=True)
        finally:
            with contextlib.suppress(RedisError, OSError):
                await self.leases.release(key, token)

    async def _retry(self, key: str) -> float:
        """Retries after the key's backoff here if this replica owns it; otherwise sends it to the
        owner now (a timer here would be dropped when it fires: ``_keep_timer``)."""
        if self.membership.owns(key):
            return self.queue.add_rate_limited(key)
        await self._route([key], retry=True)
        return 0.0

    async def _reconcile_fenced(self, key: str, token: int, *, leased: bool) -> None:
        """Runs one reconcile with ``token`` as its write fence, and keeps the lease while it runs
        when it holds one (``leased``)."""
        links = []
        if (parent := context_from_traceparent(self._trace_links.pop(key, ""))) is not None:
            links.append(trace.Link(trace.get_current_span(parent).get_span_context()))
        started = time.perf_counter()
        outcome = "error"
        with (
            tracer().start_as_current_span(f"reconcile {self.name}", links=links) as span,
            resource_context(key),
        ):
            span.set_attribute("threeport.resource", key)
            fence = current_fence.set(token)
            try:
                attempt = asyncio.create_task(self._reconcile(key))
            finally:
                current_fence.reset(fence)
            keeper = asyncio.create_task(self._keep_lease(key, token, attempt) if leased else _idle())
            try:
                result = await self._within_timeout(attempt)
                outcome = "success"
                self._checked[key] = time.monotonic()
                self.queue.forget(key)
                if result is not None and result.requeue_after is not None:
                    self.queue.add_after(key, result.requeue_after)
            except PermanentError as error:
                outcome = "permanent_error"
                self.queue.forget(key)
                span.set_status(trace.StatusCode.ERROR, error.message)
                log.warning("reconcile failed permanently", extra={"reason": error.reason, "error": error.message})
                if self._on_permanent_error is not None:
                    await self._on_permanent_error(key, error)
            except StaleFence:
                outcome = "lease_lost"
                if self.membership.owns(key):
                    # Written under a newer token than this view's (a lease drawn while a view
                    # was unsettled, this replica's or another's): the next heartbeat's token is
                    # above it. Dropped here, the key waited for the next full resync (minutes).
                    log.info("status written under a newer token; retrying after the next heartbeat",
                             extra={"key": key})
                    self.queue.add_after(key, self.membership.heartbeat)
                else:
                    log.info("another replica took over", extra={"key": key})
            except ReconcileTimedOut as error:
                outcome = "timeout"
                delay = await self._retry(key)
                span.set_status(trace.StatusCode.ERROR, str(error))
                log.error("reconcile timed out; cancelled and retrying",
                          extra={"error": str(error), "retry_in": round(delay, 3)})
            except asyncio.CancelledError:
                if not keeper.done() or keeper.result() is not False:
                    raise
                outcome = "lease_lost"
                log.warning("lease lost mid-reconcile; requeued", extra={"key": key})
                await self._retry(key)
            except Exception as error:
                delay = await self._retry(key)
                span.record_exception(error)
                span.set_status(trace.StatusCode.ERROR, str(error))
                level = _failure_level(error)
                log.log(
                    level,
                    "reconcile failed; retrying",
                    exc_info=level == logging.ERROR,
                    extra={"error": str(error), "retry_in": round(delay, 3)},
                )
            finally:
                await cancel_and_wait(keeper, attempt)
                attributes = {"controller": self.name, "outcome": outcome}
                self._reconciles.add(1, attributes)
                self._duration.record(time.perf_counter() - started, attributes)

    async def _within_timeout(self, attempt: asyncio.Task[Result | None]) -> Result | None:
        """The attempt's result; cancels it and raises ``ReconcileTimedOut`` when it runs past
        ``reconcile_timeout``."""
        timeout = self._options.reconcile_timeout
        done, _ = await asyncio.wait({attempt}, timeout=timeout)
        if not done:
            await cancel_and_wait(attempt)
            raise ReconcileTimedOut(f"still running after {timeout:g} s")
        return attempt.result()

    async def _keep_lease(self, key: str, token: int, attempt: asyncio.Task[Result | None]) -> bool:
        """Renews the lease until the attempt ends; cancels the attempt and returns False if lost."""
        while True:
            await asyncio.sleep(self.leases.ttl / 3)
            try:
                still_held = await self.leases.renew(key, token)
            except (RedisError, OSError):
                still_held = True  # Transient; the TTL still protects us until it runs out.
            if not still_held:
                attempt.cancel()
                return False


def _failure_level(error: Exception) -> int:
    """How loudly a failed reconcile or resync is logged: a ``TemporaryError`` is expected
    (INFO); a datastore or another service that cannot be reached now, as while the control
    plane starts or restarts, is an outage to notice, not a bug (WARNING, without a traceback);
    anything else is a bug or an unknown (ERROR, with its traceback)."""
    if isinstance(error, TemporaryError):
        return logging.INFO
    return logging.WARNING if as_outage(error) is not None else logging.ERROR


class ReconcileTimedOut(Exception):
    """A reconcile ran past ``ControllerOptions.reconcile_timeout`` and was cancelled."""


async def _idle() -> bool:
    """The keeper of a reconcile without a lease: nothing to renew."""
    await asyncio.Event().wait()
    return True


def _observation(value: int, controller: str) -> Observation:
    return Observation(value, {"controller": controller})
