"""The delivery gRPC services. Standard methods delegate to the runtime's StandardMethods; the
verbs to ``api.actions`` and ``api.plan``; releases and events are read-only listings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from threeport.delivery.v1alpha1 import (
    deployment_pb2,
    deployment_pb2_grpc,
    event_service_pb2,
    event_service_pb2_grpc,
    release_pb2,
    release_pb2_grpc,
)
from threeport_runtime.errors import FieldViolation, InvalidArgument
from threeport_runtime.reconcile.events import EventLister
from threeport_runtime.rpc.standard_methods import StandardMethods
from threeport_workload_delivery.api.actions import Actions
from threeport_workload_delivery.api.logs import LogStreamer
from threeport_workload_delivery.api.namespaces import check_namespace_free
from threeport_workload_delivery.api.override_checks import OverrideChecks
from threeport_workload_delivery.api.plan import Planner
from threeport_workload_delivery.domain import changes
from threeport_workload_delivery.store.namespaces import NamespaceClaims
from threeport_workload_delivery.store.releases import ReleaseStore

Context = Any


class DeploymentServicer(deployment_pb2_grpc.DeploymentServiceServicer):
    def __init__(self, methods: StandardMethods[deployment_pb2.Deployment], actions: Actions, planner: Planner,
                 namespaces: NamespaceClaims, override_checks: OverrideChecks, logs: LogStreamer):
        self._methods = methods
        self._logs = logs
        self._actions = actions
        self._planner = planner
        self._namespaces = namespaces
        self._override_checks = override_checks

    async def CreateDeployment(self, request: Any, context: Context) -> deployment_pb2.Deployment:
        name = self._methods.name_for(request.parent, request.deployment_id)
        await check_namespace_free(self._namespaces, name, request.deployment.spec)
        if request.parent.startswith("projects/"):
            await self._override_checks.check(request.parent, request.deployment)
        return await self._methods.create(request)

    async def GetDeployment(self, request: Any, context: Context) -> deployment_pb2.Deployment:
        return await self._methods.get(request)

    async def ListDeployments(self, request: Any, context: Context) -> Any:
        return await self._methods.list(request, deployment_pb2.ListDeploymentsResponse)

    async def UpdateDeployment(self, request: Any, context: Context) -> deployment_pb2.Deployment:
        await check_namespace_free(self._namespaces, request.deployment.name, request.deployment.spec)
        if not request.update_mask.paths or "annotations" in request.update_mask.paths:
            existing = await self._methods.repository.find(request.deployment.name)
            if existing is not None:
                changes.keep_owned(dict(existing.annotations), request.deployment.annotations)
        if "/deployments/" in request.deployment.name and (
                not request.update_mask.paths or any(p.startswith("spec") for p in request.update_mask.paths)):
            await self._override_checks.check(request.deployment.name.split("/deployments/", 1)[0],
                                              request.deployment)
        return await self._methods.update(request)

    async def DeleteDeployment(self, request: Any, context: Context) -> deployment_pb2.Deployment:
        return await self._methods.delete(request)

    async def WatchDeployments(self, request: Any, context: Context) -> AsyncIterator[Any]:
        async for response in self._methods.watch(request, deployment_pb2.WatchDeploymentsResponse):
            yield response

    async def Deploy(self, request: deployment_pb2.DeployRequest, context: Context) -> deployment_pb2.Deployment:
        return await self._actions.deploy(request)

    async def Promote(
        self, request: deployment_pb2.PromoteRequest, context: Context
    ) -> deployment_pb2.PromoteResponse:
        return await self._actions.promote(request)

    async def Rollback(
        self, request: deployment_pb2.RollbackRequest, context: Context
    ) -> deployment_pb2.RollbackResponse:
        return await self._actions.rollback(request)

    async def Approve(self, request: deployment_pb2.ApproveRequest, context: Context) -> deployment_pb2.Deployment:
        return await self._actions.approve(request)

    async def Plan(self, request: deployment_pb2.PlanRequest, context: Context) -> deployment_pb2.PlanResponse:
        return await self._planner.plan(request)

    async def StreamLogs(self, request: deployment_pb2.StreamLogsRequest, context: Context) -> AsyncIterator[Any]:
        async for response in self._logs.stream(request):
            yield response


class ReleaseServicer(release_pb2_grpc.ReleaseServiceServicer):
    def __init__(self, releases: ReleaseStore):
        self._releases = releases

    async def GetRelease(self, request: release_pb2.GetReleaseRequest, context: Context) -> release_pb2.Release:
        return await self._releases.get(request.name)

    async def ListReleases(
        self, request: release_pb2.ListReleasesRequest, context: Context
    ) -> release_pb2.ListReleasesResponse:
        parts = request.parent.split("/")
        if len(parts) != 4 or parts[0] != "projects" or parts[2] != "deployments" or parts[1] == "-":
            raise InvalidArgument.for_fields([FieldViolation(
                "parent", "must be projects/{project}/deployments/{deployment}, or "
                "projects/{project}/deployments/- for the releases of every deployment")])
        releases, token = await self._releases.list(request.parent, request.page_size, request.page_token)
        return release_pb2.ListReleasesResponse(releases=releases, next_page_token=token)


class EventServicer(event_service_pb2_grpc.EventServiceServicer):
    def __init__(self, events: EventLister):
        self._events = events

    async def ListEvents(
        self, request: event_service_pb2.ListEventsRequest, context: Context
    ) -> event_service_pb2.ListEventsResponse:
        return await self._events.respond(request, event_service_pb2.ListEventsResponse)
