"""The controller: watches streams, queues keys, and reconciles them with N workers.

Reconcilers follow controller-runtime: ``reconcile(name)`` receives only the resource name,
re-reads everything it needs, converges, and returns ``Result`` or raises. Events only say
*which* keys to look at; the periodic jittered resync of every key (``list_keys``) makes a lost
event cost latency, never correctness. A per-key Redis lease keeps replicas from reconciling
the same key at once; losing the lease mid-reconcile cancels the reconcile.

Replicas share the resync: each registers in the controller's live membership
(``membership``), and its periodic resync and the resync after a consumer reset queue only the
keys it owns by rendezvous hashing (the first resync after start still queues every key). When
the members change, a replica queues the keys it has just come to own, so a dead replica's share
is resynced by the survivors within one heartbeat of its expiry. Events are still reconciled by
whichever replica's consumer receives them, under the lease, which is also what keeps a key from
running twice while replicas disagree about the members for a heartbeat.
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
from threeport_runtime.reconcile.lease import Leases
from threeport_runtime.reconcile.membership import Membership, owner_of
from threeport_runtime.reconcile.queue import WorkQueue
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
        self.queue = WorkQueue(base_delay=options.backoff_base, max_delay=options.backoff_max)
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
        self.membership = Membership(
            redis,
            key=f"{stream_prefix}{name}:members",
            resync_key=f"{stream_prefix}{name}:resync",
            member=self.consumer.consumer,
            heartbeat=options.membership_heartbeat,
            ttl=options.membership_ttl,
            on_change=self._members_changed,
            on_resync_requested=self._resync_requested.set,
        )
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
            asyncio.create_task(self._resync_forever(), name=f"{self.name} resync"),
            asyncio.create_task(self._rebalance_forever(), name=f"{self.name} rebalance"),
            *(
                asyncio.create_task(self._work_forever(), name=f"{self.name} worker {index}")
                for index in range(self._options.workers)
            ),
        )

    def enqueue(self, key: str) -> None:
        self.queue.add(key)

    async def resync(self, *, everything: bool = False) -> None:
        """Queues every key this replica owns (all of them when it runs alone, or asked to)."""
        owned = listed = 0
        async for key in self._list_keys():
            listed += 1
            if everything or self.membership.owns(key):
                self.queue.add(key)
                owned += 1
        log.info(
            "resync queued keys",
            extra={"controller": self.name, "keys": owned, "listed": listed, "members": len(self.membership.members)},
        )

    async def _resync_after_reset(self) -> None:
        # Only this replica's consumer saw the lost group: the others resync their shares when
        # their heartbeat sees the request.
        await self.resync()
        await self.membership.request_resync()

    def _members_changed(self, previous: tuple[str, ...], current: tuple[str, ...]) -> None:
        self._rebalances.put_nowait((previous, current))

    async def _rebalance_forever(self) -> None:
        """Queues the keys each membership change gave this replica (a departed member's share)."""
        while True:
            previous, current = await self._rebalances.get()
            mine = self.membership.member
            if previous == (mine,) and mine in current:
                continue  # Joining others, or Redis answering at last: this replica only gave keys away.
            try:
                gained = listed = 0
                async for key in self._list_keys():
                    listed += 1
                    if owner_of(key, current) == mine and owner_of(key, previous) != mine:
                        self.queue.add(key)
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

    async def _resync_forever(self) -> None:
        # The first resync after start queues every key, as a lone replica always did: a
        # predecessor that was killed stays registered for up to `membership_ttl`, and its
        # share would wait for that.
        everything = True
        while True:
            try:
                await self.resync(everything=everything)
                everything = False
            except Exception:
                log.exception("resync failed; will retry", extra={"controller": self.name})
            interval = self._options.resync_interval
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(random.uniform(0.9 * interval, 1.1 * interval)):
                    await self._resync_requested.wait()
            self._resync_requested.clear()

    async def _on_event(self, stream: str, event: change_event_pb2.ChangeEvent) -> None:
        for watch in self._watches[stream]:
            if watch.changes is not None and event.change not in watch.changes:
                continue
            keys = [event.name] if watch.keys is None else await watch.keys(event)
            for key in keys:
                if event.traceparent:
                    self._trace_links[key] = event.traceparent
                self.queue.add(key)

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
        try:
            token = await self.leases.acquire(key)
        except (RedisError, OSError) as exc:
            log.warning("lease unavailable; retrying", extra={"key": key, "error": str(exc)})
            self.queue.add_rate_limited(key)
            return
        if token is None:
            # Another replica is reconciling it; look again once it is likely done.
            retry = min(1.0, self.leases.ttl / 3)
            self.queue.add_after(key, random.uniform(retry / 2, retry))
            return
        try:
            await self._reconcile_under_lease(key, token)
        finally:
            with contextlib.suppress(RedisError, OSError):
                await self.leases.release(key, token)

    async def _reconcile_under_lease(self, key: str, token: int) -> None:
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
            keeper = asyncio.create_task(self._keep_lease(key, token, attempt))
            try:
                result = await attempt
                outcome = "success"
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
                log.info("another replica took over", extra={"key": key})
            except asyncio.CancelledError:
                if not keeper.done() or keeper.result() is not False:
                    raise
                outcome = "lease_lost"
                log.warning("lease lost mid-reconcile; requeued", extra={"key": key})
                self.queue.add_rate_limited(key)
            except Exception as error:
                delay = self.queue.add_rate_limited(key)
                span.record_exception(error)
                span.set_status(trace.StatusCode.ERROR, str(error))
                level = logging.INFO if isinstance(error, TemporaryError) else logging.ERROR
                log.log(
                    level,
                    "reconcile failed; retrying",
                    exc_info=not isinstance(error, TemporaryError),
                    extra={"error": str(error), "retry_in": round(delay, 3)},
                )
            finally:
                await cancel_and_wait(keeper, attempt)
                attributes = {"controller": self.name, "outcome": outcome}
                self._reconciles.add(1, attributes)
                self._duration.record(time.perf_counter() - started, attributes)

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


def _observation(value: int, controller: str) -> Observation:
    return Observation(value, {"controller": controller})
