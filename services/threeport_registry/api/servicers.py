"""The registry's gRPC services. Standard methods delegate to the runtime's StandardMethods;
the custom verbs (ConvertScore, ResolveServiceClass, ReportBuild, ListLatestBuilds) live here."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from threeport.registry.v1alpha1 import (
    addon_profile_pb2,
    addon_profile_pb2_grpc,
    application_pb2,
    application_pb2_grpc,
    build_pb2,
    build_pb2_grpc,
    cluster_profile_pb2,
    cluster_profile_pb2_grpc,
    environment_pb2,
    environment_pb2_grpc,
    event_service_pb2,
    event_service_pb2_grpc,
    service_class_pb2,
    service_class_pb2_grpc,
)
from threeport_registry.api.cross_checks import CrossChecks
from threeport_registry.api.usage import ApplicationUsage
from threeport_registry.api.validators import application_checker
from threeport_registry.domain.builds import validate_build
from threeport_registry.domain.dependencies import ProvidedTypes
from threeport_registry.domain.resolution import resolve_service_class
from threeport_registry.domain.score import convert_score_yaml
from threeport_runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from threeport_runtime.reconcile.events import EventLister
from threeport_runtime.rpc.standard_methods import StandardMethods

Context = Any


class ApplicationServicer(application_pb2_grpc.ApplicationServiceServicer):
    def __init__(self, methods: StandardMethods[application_pb2.Application], usage: ApplicationUsage,
                 checks: CrossChecks, provided: Callable[[], ProvidedTypes]):
        self._methods = methods
        self._usage = usage
        self._checks = checks
        self._provided = provided  # the addon catalog's types: Score files may use them too

    async def CreateApplication(self, request: Any, context: Context) -> application_pb2.Application:
        if request.application_id and request.parent:
            await self._checks.application(f"{request.parent}/applications/{request.application_id}",
                                           request.application.spec)
        return await self._methods.create(request)

    async def GetApplication(self, request: Any, context: Context) -> application_pb2.Application:
        return await self._methods.get(request)

    async def ListApplications(self, request: Any, context: Context) -> Any:
        return await self._methods.list(request, application_pb2.ListApplicationsResponse)

    async def UpdateApplication(self, request: Any, context: Context) -> application_pb2.Application:
        if "/applications/" in request.application.name and _changes_spec(request.update_mask.paths):
            await self._checks.application(request.application.name, request.application.spec)
        return await self._methods.update(request)

    async def DeleteApplication(self, request: Any, context: Context) -> application_pb2.Application:
        if not request.force and await self._methods.repository.find(request.name) is not None:
            await self._usage.refuse_if_used(request.name)
        return await self._methods.delete(request)

    async def WatchApplications(self, request: Any, context: Context) -> AsyncIterator[Any]:
        async for response in self._methods.watch(request, application_pb2.WatchApplicationsResponse):
            yield response

    async def ConvertScore(
        self, request: application_pb2.ConvertScoreRequest, context: Context
    ) -> application_pb2.ConvertScoreResponse:
        violations = self._methods.check_parent(request.parent)
        if violations:
            raise InvalidArgument.for_fields(violations)
        provided = self._provided()
        conversion = convert_score_yaml(request.score_yaml, parent=request.parent, provided=provided)
        application_checker(lambda: provided)(conversion.application)
        return application_pb2.ConvertScoreResponse(
            application=conversion.application, warnings=conversion.warnings
        )


class EnvironmentServicer(environment_pb2_grpc.EnvironmentServiceServicer):
    def __init__(self, methods: StandardMethods[environment_pb2.Environment], checks: CrossChecks):
        self._methods = methods
        self._checks = checks

    async def CreateEnvironment(self, request: Any, context: Context) -> environment_pb2.Environment:
        if request.parent:
            await self._checks.environment(request.parent, request.environment.spec)
        return await self._methods.create(request)

    async def GetEnvironment(self, request: Any, context: Context) -> environment_pb2.Environment:
        return await self._methods.get(request)

    async def ListEnvironments(self, request: Any, context: Context) -> Any:
        return await self._methods.list(request, environment_pb2.ListEnvironmentsResponse)

    async def UpdateEnvironment(self, request: Any, context: Context) -> environment_pb2.Environment:
        if "/environments/" in request.environment.name and _changes_spec(request.update_mask.paths):
            await self._checks.environment(request.environment.name.split("/environments/", 1)[0],
                                           request.environment.spec)
        return await self._methods.update(request)

    async def DeleteEnvironment(self, request: Any, context: Context) -> environment_pb2.Environment:
        return await self._methods.delete(request)

    async def WatchEnvironments(self, request: Any, context: Context) -> AsyncIterator[Any]:
        async for response in self._methods.watch(request, environment_pb2.WatchEnvironmentsResponse):
            yield response


def _changes_spec(paths: Any) -> bool:
    """An empty mask replaces the spec too (services/README.md)."""
    return not paths or any(path == "spec" or path.startswith("spec.") for path in paths)


async def refuse_deleting_system_default(methods: StandardMethods[Any], name: str) -> None:
    """Built-in profiles keep the platform working with no configuration; change them instead."""
    try:
        existing = await methods.repository.get(name)
    except NotFound:
        return
    if existing.status.system_default:
        raise FailedPrecondition(
            f"{name} is a system default and cannot be deleted; update it instead "
            "(for example to change its provider or implementation)"
        )


class ClusterProfileServicer(cluster_profile_pb2_grpc.ClusterProfileServiceServicer):
    def __init__(self, methods: StandardMethods[cluster_profile_pb2.ClusterProfile]):
        self._methods = methods

    async def CreateClusterProfile(self, request: Any, context: Context) -> cluster_profile_pb2.ClusterProfile:
        return await self._methods.create(request)

    async def GetClusterProfile(self, request: Any, context: Context) -> cluster_profile_pb2.ClusterProfile:
        return await self._methods.get(request)

    async def ListClusterProfiles(self, request: Any, context: Context) -> Any:
        return await self._methods.list(request, cluster_profile_pb2.ListClusterProfilesResponse)

    async def UpdateClusterProfile(self, request: Any, context: Context) -> cluster_profile_pb2.ClusterProfile:
        return await self._methods.update(request)

    async def DeleteClusterProfile(self, request: Any, context: Context) -> cluster_profile_pb2.ClusterProfile:
        await refuse_deleting_system_default(self._methods, request.name)
        return await self._methods.delete(request)

    async def WatchClusterProfiles(self, request: Any, context: Context) -> AsyncIterator[Any]:
        async for response in self._methods.watch(request, cluster_profile_pb2.WatchClusterProfilesResponse):
            yield response


class ServiceClassServicer(service_class_pb2_grpc.ServiceClassServiceServicer):
    def __init__(
        self,
        methods: StandardMethods[service_class_pb2.ServiceClass],
        environments: StandardMethods[environment_pb2.Environment],
    ):
        self._methods = methods
        self._environments = environments

    async def CreateServiceClass(self, request: Any, context: Context) -> service_class_pb2.ServiceClass:
        return await self._methods.create(request)

    async def GetServiceClass(self, request: Any, context: Context) -> service_class_pb2.ServiceClass:
        return await self._methods.get(request)

    async def ListServiceClasses(self, request: Any, context: Context) -> Any:
        return await self._methods.list(request, service_class_pb2.ListServiceClassesResponse)

    async def UpdateServiceClass(self, request: Any, context: Context) -> service_class_pb2.ServiceClass:
        return await self._methods.update(request)

    async def DeleteServiceClass(self, request: Any, context: Context) -> service_class_pb2.ServiceClass:
        await refuse_deleting_system_default(self._methods, request.name)
        return await self._methods.delete(request)

    async def WatchServiceClasses(self, request: Any, context: Context) -> AsyncIterator[Any]:
        async for response in self._methods.watch(request, service_class_pb2.WatchServiceClassesResponse):
            yield response

    async def ResolveServiceClass(
        self, request: service_class_pb2.ResolveServiceClassRequest, context: Context
    ) -> service_class_pb2.ResolveServiceClassResponse:
        violations: list[FieldViolation] = self._environments.check_parent(request.parent)
        if not request.environment.startswith(f"{request.parent}/environments/"):
            violations.append(FieldViolation("environment", f"must be {request.parent}/environments/{{id}}"))
        if not request.type:
            violations.append(FieldViolation("type", "is required, e.g. postgres"))
        if violations:
            raise InvalidArgument.for_fields(violations)
        environment = await self._environments.repository.get(request.environment)
        candidates = []
        async for name in self._methods.repository.iter_names():
            candidates.append(await self._methods.repository.get(name))
        resolution = resolve_service_class(
            candidates,
            project=request.parent,
            environment=environment,
            dependency_type=request.type,
            requested_class=getattr(request, "class"),  # `class` is a Python keyword
        )
        if resolution is None:
            raise NotFound(
                f"no service class provides {request.type!r} for {request.environment}; "
                "create one (tptctl apply -f a ServiceClass manifest)",
                reason="NO_PROVIDER",
            )
        return service_class_pb2.ResolveServiceClassResponse(
            service_class=resolution.service_class,
            matched_by=resolution.matched_by,
            effective_class=resolution.effective_class,
        )


class AddonProfileServicer(addon_profile_pb2_grpc.AddonProfileServiceServicer):
    def __init__(self, methods: StandardMethods[addon_profile_pb2.AddonProfile]):
        self._methods = methods

    async def CreateAddonProfile(self, request: Any, context: Context) -> addon_profile_pb2.AddonProfile:
        return await self._methods.create(request)

    async def GetAddonProfile(self, request: Any, context: Context) -> addon_profile_pb2.AddonProfile:
        return await self._methods.get(request)

    async def ListAddonProfiles(self, request: Any, context: Context) -> Any:
        return await self._methods.list(request, addon_profile_pb2.ListAddonProfilesResponse)

    async def UpdateAddonProfile(self, request: Any, context: Context) -> addon_profile_pb2.AddonProfile:
        return await self._methods.update(request)

    async def DeleteAddonProfile(self, request: Any, context: Context) -> addon_profile_pb2.AddonProfile:
        await refuse_deleting_system_default(self._methods, request.name)
        return await self._methods.delete(request)

    async def WatchAddonProfiles(self, request: Any, context: Context) -> AsyncIterator[Any]:
        async for response in self._methods.watch(request, addon_profile_pb2.WatchAddonProfilesResponse):
            yield response


LatestBuilds = Callable[[str, str], Awaitable[list[build_pb2.Build]]]
# Many (application, environment) pairs at once: each pair -> its builds, as ``LatestBuilds``.
ManyLatestBuilds = Callable[[list[tuple[str, str]]], Awaitable[dict[tuple[str, str], list[build_pb2.Build]]]]
# The most pairs one BatchListLatestBuilds asks for (a List page's most, AIP-158's usual cap).
MAX_BATCH = 1000


def new_build_id() -> str:
    """Sortable by report time, unique without coordination: `b20261125t043512123456-1a2b3c`.

    Consumers take the greater id as the newer build (``ListLatestBuilds``, workload-delivery's
    image derivation, the application's ``latest_builds``), so the time goes down to microseconds: two builds reported
    in the same second must still sort in the order they were reported.
    """
    return f"b{datetime.now(UTC):%Y%m%dt%H%M%S%f}-{secrets.token_hex(3)}"


class BuildServicer(build_pb2_grpc.BuildServiceServicer):
    def __init__(
        self,
        methods: StandardMethods[build_pb2.Build],
        applications: StandardMethods[application_pb2.Application],
        latest: LatestBuilds,
        latest_many: ManyLatestBuilds,
    ):
        self._methods = methods
        self._applications = applications
        self._latest = latest
        self._latest_many = latest_many

    async def GetBuild(self, request: Any, context: Context) -> build_pb2.Build:
        return await self._methods.get(request)

    async def ListBuilds(self, request: Any, context: Context) -> Any:
        return await self._methods.list(request, build_pb2.ListBuildsResponse)

    async def WatchBuilds(self, request: Any, context: Context) -> AsyncIterator[Any]:
        async for response in self._methods.watch(request, build_pb2.WatchBuildsResponse):
            yield response

    async def ListLatestBuilds(
        self, request: build_pb2.ListLatestBuildsRequest, context: Context
    ) -> build_pb2.ListLatestBuildsResponse:
        violations = self._latest_violations(request)
        if violations:
            raise InvalidArgument.for_fields(violations)
        builds = await self._latest(request.parent, request.environment)
        return build_pb2.ListLatestBuildsResponse(builds={b.spec.component: b for b in builds})

    async def BatchListLatestBuilds(
        self, request: build_pb2.BatchListLatestBuildsRequest, context: Context
    ) -> build_pb2.BatchListLatestBuildsResponse:
        if len(request.requests) > MAX_BATCH:
            raise InvalidArgument.for_fields([FieldViolation(
                "requests", f"at most {MAX_BATCH} per call; {len(request.requests)} were sent")])
        violations = [FieldViolation(f"requests[{index}].{violation.field}", violation.description)
                      for index, asked in enumerate(request.requests)
                      for violation in self._latest_violations(asked)]
        if violations:
            raise InvalidArgument.for_fields(violations)
        found = await self._latest_many([(asked.parent, asked.environment) for asked in request.requests])
        return build_pb2.BatchListLatestBuildsResponse(responses=[
            build_pb2.ListLatestBuildsResponse(
                builds={b.spec.component: b for b in found[(asked.parent, asked.environment)]})
            for asked in request.requests
        ])

    def _latest_violations(self, request: build_pb2.ListLatestBuildsRequest) -> list[FieldViolation]:
        """What is wrong with one ListLatestBuilds request (``parent``, ``environment``)."""
        violations = self._methods.check_parent(request.parent)
        environment = request.environment.split("/")
        if len(environment) != 4 or environment[0] != "projects" or environment[2] != "environments":
            violations.append(FieldViolation("environment", "must be projects/{project}/environments/{environment}"))
        elif "/".join(environment[:2]) != "/".join(request.parent.split("/")[:2]):
            violations.append(FieldViolation("environment", "must be in the application's project"))
        return violations

    async def ReportBuild(self, request: build_pb2.ReportBuildRequest, context: Context) -> build_pb2.Build:
        violations = self._methods.check_parent(request.parent)
        if violations:
            raise InvalidArgument.for_fields(violations)
        try:
            application = await self._applications.repository.get(request.parent)
        except NotFound:
            raise NotFound(
                f"application {request.parent} does not exist; apply it before reporting builds",
            ) from None
        report = build_pb2.Build()
        report.CopyFrom(request.build)
        found = validate_build(report, application)
        if found:
            raise InvalidArgument.for_fields(found)
        return await self._methods.repository.create(
            report,
            name=self._methods.name_for(request.parent, new_build_id()),
            request_id=request.request_id,
            validate_only=request.validate_only,
        )


class EventServicer(event_service_pb2_grpc.EventServiceServicer):
    def __init__(self, events: EventLister):
        self._events = events

    async def ListEvents(
        self, request: event_service_pb2.ListEventsRequest, context: Context
    ) -> event_service_pb2.ListEventsResponse:
        return await self._events.respond(request, event_service_pb2.ListEventsResponse)
