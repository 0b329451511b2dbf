"""The rule for "is this resource ready yet?", and the wait loops built on Get and Watch.

A resource is **ready** when its ``Ready`` condition is ``TRUE`` and that condition's
``observed_generation`` equals the resource's ``generation``: the controllers have seen the
current spec and say it is in place. An observation made for an older generation says nothing
about the current spec, so it never counts as ready, nor as failed.

Waiting **fails at once** (:class:`~threeport.sdk.errors.ResourceFailedError`) when:

1. ``state`` is ``STATE_FAILED`` (a controller reported a terminal failure);
2. ``state`` is ``STATE_DELETING`` (a resource being deleted will not become ready);
3. ``Ready`` is ``FALSE`` for the current generation and either its ``reason`` is one of the
   caller's ``terminal_reasons``, or ``reconciling`` is false (the controllers have finished
   with this generation and concluded that it is not ready).

Otherwise waiting goes on until ``timeout`` seconds have passed, then
:class:`~threeport.sdk.errors.WaitTimeoutError` carries the last conditions seen. A resource that
disappears while waited for raises :class:`~threeport.sdk.errors.NotFoundError`.

The loops first Get the resource (a missing one fails with NOT_FOUND at once), then follow its
Watch stream, filtered to that one name; when the stream ends or the server is briefly
unavailable they Get again and re-watch. Resources without a Watch method are polled with Get.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

from google.protobuf.message import Message

from threeport.common.v1alpha1 import condition_pb2, state_pb2, watch_pb2

from .errors import (
    DeadlineExceededError,
    NotFoundError,
    ResourceFailedError,
    UnavailableError,
    WaitTimeoutError,
)

ResourceT = TypeVar("ResourceT", bound=Message)

READY = "Ready"
DEFAULT_POLL_INTERVAL = 2.0


@dataclass(frozen=True)
class Verdict:
    """The outcome of looking at one version of a resource."""

    ready: bool = False
    failed: bool = False
    reason: str = ""
    message: str = ""


def _conditions(resource: Message) -> list[condition_pb2.Condition]:
    return list(cast("list[condition_pb2.Condition]", getattr(resource, "conditions", [])))


def ready_condition(resource: Message) -> condition_pb2.Condition | None:
    return next((c for c in _conditions(resource) if c.type == READY), None)


def assess(resource: Message, terminal_reasons: Collection[str] = ()) -> Verdict:
    """Applies the rule in this module's docstring to one version of a resource."""
    state = cast(int, getattr(resource, "state", 0))
    generation = cast(int, getattr(resource, "generation", 0))
    ready = ready_condition(resource)
    if state == state_pb2.STATE_FAILED:
        return Verdict(
            failed=True,
            reason=ready.reason if ready else "Failed",
            message=ready.message if ready else "a controller reported a terminal failure",
        )
    if state == state_pb2.STATE_DELETING:
        return Verdict(failed=True, reason="Deleting", message="the resource is being deleted")
    if ready is None or ready.observed_generation != generation:
        return Verdict()
    if ready.status == condition_pb2.CONDITION_STATUS_TRUE:
        return Verdict(ready=True)
    reconciling = bool(getattr(resource, "reconciling", False))
    if ready.status == condition_pb2.CONDITION_STATUS_FALSE and (
        ready.reason in terminal_reasons or not reconciling
    ):
        return Verdict(failed=True, reason=ready.reason, message=ready.message)
    return Verdict()


def _describe(conditions: Collection[condition_pb2.Condition]) -> str:
    if not conditions:
        return "no conditions reported yet"
    parts = []
    for condition in conditions:
        status = condition_pb2.ConditionStatus.Name(condition.status).removeprefix("CONDITION_STATUS_")
        text = f"{condition.type}={status}"
        if condition.reason:
            text += f" ({condition.reason})"
        if condition.message:
            text += f": {condition.message}"
        parts.append(text)
    return "; ".join(parts)


class _Tracker(Generic[ResourceT]):
    """Remembers the deadline and the last version seen, and turns versions into outcomes."""

    def __init__(self, name: str, timeout: float, terminal_reasons: Collection[str]) -> None:
        self.name = name
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.terminal_reasons = terminal_reasons
        self.last: ResourceT | None = None

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def observe(self, resource: ResourceT) -> bool:
        """True when ready; raises when it failed; False to keep waiting."""
        self.last = resource
        verdict = assess(resource, self.terminal_reasons)
        if verdict.failed:
            raise ResourceFailedError(
                f"{self.name} failed: {verdict.reason}: {verdict.message}".rstrip(": "),
                name=self.name,
                conditions=_conditions(resource),
                state=cast(int, getattr(resource, "state", 0)),
                reason=verdict.reason,
                condition_message=verdict.message,
            )
        return verdict.ready

    def timed_out(self) -> WaitTimeoutError:
        conditions = _conditions(self.last) if self.last is not None else []
        generation = cast(int, getattr(self.last, "generation", 0)) if self.last is not None else 0
        return WaitTimeoutError(
            f"{self.name} was not ready after {self.timeout:g}s (generation {generation}): "
            f"{_describe(conditions)}",
            name=self.name,
            conditions=conditions,
            state=cast(int, getattr(self.last, "state", 0)) if self.last is not None else 0,
        )

    def event_resource(self, event: Message, resource_field: str) -> ResourceT | None:
        """The waited-for resource in a watch event, or None for heartbeats and other names."""
        kind = cast(int, getattr(event, "type", 0))
        if kind == watch_pb2.WATCH_EVENT_TYPE_HEARTBEAT or not event.HasField(resource_field):
            return None
        resource = cast(ResourceT, getattr(event, resource_field))
        if getattr(resource, "name", None) != self.name:
            return None
        if kind == watch_pb2.WATCH_EVENT_TYPE_DELETED:
            raise NotFoundError(
                f"{self.name} was deleted while waiting for it to become ready", reason="RESOURCE_NOT_FOUND"
            )
        return resource


def wait_ready(
    name: str,
    *,
    get: Callable[[float], ResourceT],
    watch: Callable[[float], Iterator[Message]] | None,
    resource_field: str,
    timeout: float,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    terminal_reasons: Collection[str] = (),
) -> ResourceT:
    """Blocks until ``name`` is ready (see the module docstring) and returns that version.

    ``get(remaining)`` fetches the resource; ``watch(remaining)`` opens its Watch stream.
    """
    tracker: _Tracker[ResourceT] = _Tracker(name, timeout, terminal_reasons)
    try:
        while True:
            if tracker.observe(get(tracker.remaining())):
                return cast(ResourceT, tracker.last)
            if watch is not None:
                try:
                    for event in watch(tracker.remaining()):
                        resource = tracker.event_resource(event, resource_field)
                        if resource is not None and tracker.observe(resource):
                            return resource
                except UnavailableError:
                    pass  # The server restarted or moved; Get again and re-watch.
            if tracker.remaining() <= 0:
                raise tracker.timed_out()
            time.sleep(min(poll_interval, tracker.remaining()))
    except DeadlineExceededError:
        raise tracker.timed_out() from None


async def wait_ready_async(
    name: str,
    *,
    get: Callable[[float], Awaitable[ResourceT]],
    watch: Callable[[float], AsyncGenerator[Message, None]] | None,
    resource_field: str,
    timeout: float,  # noqa: ASYNC109 (also the deadline of each call)
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    terminal_reasons: Collection[str] = (),
) -> ResourceT:
    """The ``asyncio`` form of :func:`wait_ready`."""
    tracker: _Tracker[ResourceT] = _Tracker(name, timeout, terminal_reasons)
    try:
        while True:
            if tracker.observe(await get(tracker.remaining())):
                return cast(ResourceT, tracker.last)
            if watch is not None:
                try:
                    # aclosing: returning from inside the loop must end the stream at once.
                    async with contextlib.aclosing(watch(tracker.remaining())) as events:
                        async for event in events:
                            resource = tracker.event_resource(event, resource_field)
                            if resource is not None and tracker.observe(resource):
                                return resource
                except UnavailableError:
                    pass  # The server restarted or moved; Get again and re-watch.
            if tracker.remaining() <= 0:
                raise tracker.timed_out()
            await asyncio.sleep(min(poll_interval, tracker.remaining()))
    except DeadlineExceededError:
        raise tracker.timed_out() from None
