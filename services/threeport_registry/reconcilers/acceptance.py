"""Marks registry resources Ready for their current generation and derives their status.

The registry's objects are declarations: once validated at write time they are accepted. What
needs a controller is what depends on other objects: an environment's cluster profile must
exist, and an application's status lists its newest builds. The reconcile re-reads everything,
so creation, change and resync all take the same path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from threeport.registry.v1alpha1 import application_pb2, build_pb2, environment_pb2
from threeport_model import auto_deploy
from threeport_registry.domain.defaults import DEFAULT_CLUSTER_PROFILE
from threeport_runtime.db.repository import ResourceRepository
from threeport_runtime.errors import NotFound
from threeport_runtime.reconcile.events import NORMAL, WARNING, EventRecorder
from threeport_runtime.reconcile.result import Result
from threeport_runtime.reconcile.status import mark_ready

StatusDeriver = Callable[[Any], Awaitable[tuple[bool, str, str, Callable[[Any], None]]]]


def no_status(_resource: Any) -> None:
    return None


async def accept_as_declared(_resource: Any) -> tuple[bool, str, str, Callable[[Any], None]]:
    return True, "Accepted", "validated and stored", no_status


class AcceptanceReconciler:
    """Writes Ready (and derived status) for one resource type; records an event on each flip."""

    def __init__(
        self,
        repository: ResourceRepository[Any, Any],
        events: EventRecorder,
        derive: StatusDeriver = accept_as_declared,
    ) -> None:
        self._repository = repository
        self._events = events
        self._derive = derive

    async def __call__(self, name: str) -> Result | None:
        try:
            stored = await self._repository.read(name)
        except NotFound:
            return None
        resource = stored.message
        if resource.HasField("delete_time"):
            return None
        ready, reason, message, apply_status = await self._derive(resource)

        def converge(stored: Any) -> None:
            apply_status(stored)
            mark_ready(stored, ready=ready, reason=reason, message=message)

        before = next((c for c in resource.conditions if c.type == "Ready"), None)
        # Compared with what was read above: a pass that changes nothing writes (and reads) nothing more.
        await self._repository.update_status(name, converge, read=stored)
        if before is None or before.reason != reason:
            await self._events.record(
                resource=name,
                resource_uid=resource.uid,
                type=NORMAL if ready else WARNING,
                reason=reason,
                message=message,
                generation=resource.generation,
            )
        # Not ready because something it refers to is missing: look again later, too.
        return None if ready else Result(requeue_after=30.0)


def environment_status(
    cluster_profiles: ResourceRepository[Any, Any],
) -> StatusDeriver:
    async def derive(environment: environment_pb2.Environment) -> tuple[bool, str, str, Callable[[Any], None]]:
        profile = environment.spec.cluster_profile or DEFAULT_CLUSTER_PROFILE
        name = profile if profile.startswith("clusterProfiles/") else f"clusterProfiles/{profile}"

        def apply(stored: environment_pb2.Environment) -> None:
            stored.status.resolved_cluster_profile = name

        try:
            await cluster_profiles.get(name)
        except NotFound:
            return False, "ClusterProfileNotFound", f"{name} does not exist; create it or pick another", apply
        return True, "Accepted", f"uses {name}", apply

    return derive


def application_status(newest_builds: Callable[[str], Awaitable[dict[str, str]]]) -> StatusDeriver:
    """``newest_builds``: component -> its newest build of an application (``store.builds``)."""

    async def derive(application: application_pb2.Application) -> tuple[bool, str, str, Callable[[Any], None]]:
        dependency_types = sorted({d.type for d in application.spec.dependencies.values()})
        latest = await newest_builds(application.name)

        def apply(stored: application_pb2.Application) -> None:
            del stored.status.dependency_types[:]
            stored.status.dependency_types.extend(dependency_types)
            stored.status.latest_builds.clear()
            stored.status.latest_builds.update(latest)

        return True, "Accepted", "validated and stored", apply

    return derive


def build_status(environments: ResourceRepository[Any, Any]) -> StatusDeriver:
    """Records which environments' auto-deploy rules matched the build when it was reported.

    Evaluated once: a build accepted earlier keeps the environments it was recorded with, so a
    later change of the rules never sends an old build anywhere new.
    """

    async def derive(build: build_pb2.Build) -> tuple[bool, str, str, Callable[[Any], None]]:
        if any(c.type == "Ready" for c in build.conditions):
            matched = list(build.status.environments)
        else:
            matched = await matching_environments(environments, build)

        def apply(stored: build_pb2.Build) -> None:
            del stored.status.environments[:]
            stored.status.environments.extend(matched)

        shown = ", ".join(name.rsplit("/", 1)[-1] for name in matched)
        message = (f"matches the auto-deploy rules of {shown}" if matched
                   else "matches no environment's auto-deploy rules")
        return True, "Recorded", message, apply

    return derive


async def matching_environments(environments: ResourceRepository[Any, Any], build: build_pb2.Build) -> list[str]:
    """The environments of the build's project whose auto-deploy rules select it."""
    parts = build.name.split("/")
    project, application = "/".join(parts[:2]), parts[3]
    matched: list[str] = []
    token = ""
    while True:
        page, token = await environments.list(parent=project, page_size=1000, page_token=token, hide_deleting=True)
        matched += [e.name for e in page
                    if auto_deploy.any_rule_matches(e.spec.auto_deploy, application, build.spec.branch, build.spec.tag)]
        if not token:
            return matched
