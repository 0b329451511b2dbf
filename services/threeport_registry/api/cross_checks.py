"""Checks of an application or environment against other stored objects, before it is written.

The domain validators see one object; these read its neighbours, so that mistakes surface at
apply instead of as a deployment that never becomes ready:

- an application that depends on itself (INVALID_ARGUMENT naming the dependency);
- a dependency on an application that does not exist in the project (NOT_FOUND naming it;
  ``tptctl apply`` accepts that in a dry run when the same apply creates it first);
- a dependency cycle through stored applications (INVALID_ARGUMENT spelling the cycle);
- a ``clusterProfile`` (placement or environment) that does not exist (NOT_FOUND);
- a ``kind: helm`` component whose chart cannot be fetched or rendered with its values
  (INVALID_ARGUMENT naming the component's ``helm`` or ``helm.values``; see ``chart_checks``).
- an environment override of an application that does not exist (NOT_FOUND, as for dependencies),
  of a component the application does not have, or whose env references a dependency the
  application does not declare (INVALID_ARGUMENT naming the entry's field).
"""

from __future__ import annotations

from typing import Any

from threeport.registry.v1alpha1 import application_pb2, cluster_profile_pb2, environment_pb2
from threeport_model import names, overrides
from threeport_registry.api.chart_checks import check_charts
from threeport_runtime import helm
from threeport_runtime.db.repository import ResourceRepository
from threeport_runtime.errors import FieldViolation, InvalidArgument, NotFound

APPLICATION_TYPE = "application"
MAX_WALK = 1000  # applications visited looking for a cycle; far above any real graph


class CrossChecks:
    def __init__(
        self,
        applications: ResourceRepository[application_pb2.Application, Any],
        cluster_profiles: ResourceRepository[cluster_profile_pb2.ClusterProfile, Any],
        charts: helm.ChartCache | None = None,
    ):
        self._applications = applications
        self._profiles = cluster_profiles
        self._charts = charts or helm.ChartCache()

    async def application(self, name: str, spec: application_pb2.ApplicationSpec, field: str = "application") -> None:
        project, own = name.split("/applications/", 1)
        for dependency, target in _application_dependencies(spec):
            at = f"{field}.spec.dependencies[{dependency!r}].params.application"
            if target == own:
                raise InvalidArgument.for_fields(
                    [FieldViolation(at, f"{own!r} cannot depend on itself; remove dependency {dependency!r}")]
                )
            if await self._applications.find(f"{project}/applications/{target}") is None:
                raise NotFound(
                    f"dependency {dependency!r} of {own!r} names application {target!r}, which does not exist "
                    f"in {project}; create it first",
                    metadata={"field": at, "application": f"{project}/applications/{target}"},
                )
        cycle = await self._cycle_through(project, own, spec)
        if cycle:
            raise InvalidArgument.for_fields(
                [FieldViolation(f"{field}.spec.dependencies", "a dependency cycle: " + " -> ".join(cycle))]
            )
        await self._profile(spec.placement.cluster_profile, f"{field}.spec.placement.cluster_profile")
        await check_charts(self._charts, spec, field)

    async def environment(self, project: str, spec: environment_pb2.EnvironmentSpec,
                          field: str = "environment") -> None:
        await self._profile(spec.cluster_profile, f"{field}.spec.cluster_profile")
        violations: list[FieldViolation] = []
        for position, override in enumerate(spec.overrides):
            at = f"{field}.spec.overrides[{position}]"
            if names.check_id(override.application) or names.check_id(override.component):
                continue  # the shape check names it
            application = await self._applications.find(f"{project}/applications/{override.application}")
            if application is None or application.HasField("delete_time"):
                raise NotFound(
                    f"override {position} names application {override.application!r}, which does not exist in "
                    f"{project}; apply it before the environment that overrides it",
                    metadata={"field": f"{at}.application",
                              "application": f"{project}/applications/{override.application}"},
                )
            violations += [FieldViolation(path, problem) for path, problem in overrides.component_violations(
                override, at, override.application, application.spec)]
        if violations:
            raise InvalidArgument.for_fields(violations)

    async def _profile(self, profile_id: str, at: str) -> None:
        if profile_id and await self._profiles.find(f"clusterProfiles/{profile_id}") is None:
            raise NotFound(
                f"clusterProfile {profile_id!r} does not exist; see `tptctl get clusterprofiles`",
                metadata={"field": at, "resource": f"clusterProfiles/{profile_id}"},
            )

    async def _cycle_through(self, project: str, own: str, spec: application_pb2.ApplicationSpec) -> list[str]:
        """The path ``own -> ... -> own`` through stored applications, or [] when there is none."""
        paths: list[list[str]] = [[own, target] for _, target in _application_dependencies(spec)]
        seen: set[str] = set()
        while paths and len(seen) < MAX_WALK:
            path = paths.pop()
            current = path[-1]
            if current == own:
                return path
            if current in seen:
                continue
            seen.add(current)
            stored = await self._applications.find(f"{project}/applications/{current}")
            if stored is not None:
                paths.extend([*path, target] for _, target in _application_dependencies(stored.spec))
        return []


def _application_dependencies(spec: application_pb2.ApplicationSpec) -> list[tuple[str, str]]:
    found = []
    for name, dependency in spec.dependencies.items():
        target = dependency.params.fields.get(APPLICATION_TYPE)
        if dependency.type == APPLICATION_TYPE and target is not None and target.string_value:
            found.append((name, target.string_value))
    return found
