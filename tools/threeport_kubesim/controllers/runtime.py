"""The controller runtime of one simulated cluster: a de-duplicating work queue fed by store change
notifications and timers (no polling), an ownership index, and the shared context controllers use.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from threeport_kubesim.apiserver import ApiServer
from threeport_kubesim.resources import ResourceType
from threeport_kubesim.store import GroupResource

if TYPE_CHECKING:
    from threeport_kubesim.controllers.events import EventRecorder
    from threeport_kubesim.faults import FaultState

log = logging.getLogger("threeport_kubesim.controllers")

# Key of one unit of work: (controller name, namespace, name).
WorkKey = tuple[str, str, str]
ObjectRef = tuple[GroupResource, str, str]

PODS: GroupResource = ("", "pods")
NODES: GroupResource = ("", "nodes")
EVENTS: GroupResource = ("", "events")


@dataclass(frozen=True, slots=True)
class Timing:
    """Simulated durations in seconds at speed 1; `speed` divides them all (tests use 20-100)."""

    speed: float = 1.0
    schedule: float = 0.1
    image_pull: float = 1.0
    container_start: float = 0.5
    pull_backoff: float = 5.0
    job_run: float = 2.0
    load_balancer: float = 1.0
    volume_bind: float = 0.5
    # kube's namespace controller needs a few seconds before it starts emptying a namespace.
    namespace_cleanup: float = 5.0
    # A running container's emulated log gets a heartbeat line this often (podlogs.py).
    log_interval: float = 5.0

    def scaled(self, seconds: float) -> float:
        return seconds / self.speed if self.speed > 0 else 0.0


class Controller:
    """Base class: subclasses name the resources they react to and reconcile one object by name."""

    name = "controller"

    def __init__(self, ctx: SimContext) -> None:
        self.ctx = ctx

    def keys_for(
        self, group_resource: GroupResource, event_type: str, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> list[tuple[str, str]]:
        """(namespace, name) of the objects this controller must reconcile after a change."""
        return []

    def reconcile(self, namespace: str, name: str) -> None:
        raise NotImplementedError


@dataclass
class SimContext:
    api: ApiServer
    timing: Timing
    faults: FaultState
    recorder: EventRecorder | None = None
    enqueue: Callable[[str, str, str, float], None] = lambda controller, ns, name, delay: None
    # owner UID -> objects whose ownerReferences name it; lets controllers find their children and the
    # garbage collector find dependents without scanning.
    dependents: dict[str, set[ObjectRef]] = field(default_factory=dict)

    def rtype(self, group_resource: GroupResource) -> ResourceType:
        rtype = self.api.registry.by_group_resource(*group_resource)
        assert rtype is not None, group_resource
        return rtype

    def children(self, owner_uid: str, group_resource: GroupResource) -> list[dict[str, Any]]:
        result = []
        for gr, namespace, name in sorted(self.dependents.get(owner_uid, ())):
            if gr != group_resource:
                continue
            obj = self.api.store.get_object(gr, namespace, name)
            if obj is not None and any(
                r.get("uid") == owner_uid and r.get("controller") for r in obj["metadata"].get("ownerReferences") or []
            ):
                result.append(obj)
        return result

    def nodes(self) -> list[dict[str, Any]]:
        return list(self.api.store.iter_objects(NODES))

    def event(self, obj: dict[str, Any], event_type: str, reason: str, message: str, component: str) -> None:
        if self.recorder is not None:
            self.recorder.record(obj, event_type, reason, message, component)


def _owner_uids(obj: dict[str, Any] | None) -> set[str]:
    if obj is None:
        return set()
    return {r["uid"] for r in obj.get("metadata", {}).get("ownerReferences") or [] if r.get("uid")}


class ControllerManager:
    """Runs every controller of one cluster on a single queue processed by one asyncio task."""

    def __init__(self, ctx: SimContext) -> None:
        self.ctx = ctx
        self.controllers: dict[str, Controller] = {}
        self.watchers: dict[GroupResource, list[Controller]] = {}
        self._queue: deque[WorkKey] = deque()
        self._pending: set[WorkKey] = set()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._timers: dict[WorkKey, asyncio.TimerHandle] = {}
        ctx.enqueue = self.enqueue
        ctx.api.store.listeners.append(self._on_change)

    def register(self, controller: Controller, *group_resources: GroupResource) -> None:
        self.controllers[controller.name] = controller
        for group_resource in group_resources:
            self.watchers.setdefault(group_resource, []).append(controller)

    def _on_change(
        self, group_resource: GroupResource, event_type: str, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> None:
        if group_resource != EVENTS:
            self._index(group_resource, event_type, obj, old)
        for controller in self.watchers.get(group_resource, ()):
            for namespace, name in controller.keys_for(group_resource, event_type, obj, old):
                self.enqueue(controller.name, namespace, name, 0.0)

    def _index(
        self, group_resource: GroupResource, event_type: str, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> None:
        metadata = obj["metadata"]
        ref: ObjectRef = (group_resource, metadata.get("namespace", ""), metadata["name"])
        uid = metadata.get("uid", "")
        new_owners = set() if event_type == "DELETED" else _owner_uids(obj)
        old_owners = _owner_uids(old) if old is not None else set()
        for owner in old_owners - new_owners:
            dependents = self.ctx.dependents.get(owner)
            if dependents is not None:
                dependents.discard(ref)
                if not dependents:
                    del self.ctx.dependents[owner]
        for owner in new_owners - old_owners:
            self.ctx.dependents.setdefault(owner, set()).add(ref)
        if event_type == "DELETED":
            for gr, namespace, name in list(self.ctx.dependents.get(uid, ())):
                self.enqueue("garbage-collector", namespace, f"{gr[0]}/{gr[1]}/{name}", 0.0)

    def enqueue(self, controller: str, namespace: str, name: str, delay: float = 0.0) -> None:
        key = (controller, namespace, name)
        if delay > 0:
            loop = asyncio.get_running_loop()
            when = loop.time() + delay
            existing = self._timers.get(key)
            # One timer per key is enough: the earliest one reconciles and re-arms what is still due.
            if existing is not None:
                if existing.when() <= when:
                    return
                existing.cancel()

            def fire() -> None:
                self._timers.pop(key, None)
                self.enqueue(controller, namespace, name, 0.0)

            self._timers[key] = loop.call_at(when, fire)
            return
        if key in self._pending:
            return
        self._pending.add(key)
        self._queue.append(key)
        self._wakeup.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        processed = 0
        while True:
            if not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            key = self._queue.popleft()
            self._pending.discard(key)
            controller = self.controllers.get(key[0])
            if controller is None:
                continue
            started = time.monotonic()
            try:
                controller.reconcile(key[1], key[2])
            except Exception:
                log.exception("reconcile %s %s/%s failed", *key)
                self.enqueue(key[0], key[1], key[2], 1.0)
            processed += 1
            # Yield to the HTTP side regularly so a burst of reconciles never starves clients.
            if processed % 20 == 0 or time.monotonic() - started > 0.005:
                await asyncio.sleep(0)

    @property
    def idle(self) -> bool:
        return not self._queue
