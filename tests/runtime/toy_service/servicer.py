"""The toy ApplicationService: thin gRPC methods over the generic repository and Watch."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis

from threeport.registry.v1alpha1 import application_pb2, application_pb2_grpc
from threeport_runtime.db.repository import ResourceRepository
from threeport_runtime.rpc.watch import watch_resources

from .tables import ApplicationRow
from .validation import check_application, check_parent_and_id

Applications = ResourceRepository[application_pb2.Application, ApplicationRow]


class ApplicationServicer(application_pb2_grpc.ApplicationServiceServicer):
    def __init__(self, applications: Applications, redis: Redis, heartbeat_interval: float = 5.0):
        self._applications = applications
        self._redis = redis
        self._heartbeat_interval = heartbeat_interval

    async def CreateApplication(
        self, request: application_pb2.CreateApplicationRequest, context: Any
    ) -> application_pb2.Application:
        check_parent_and_id(request.parent, request.application_id)
        return await self._applications.create(
            request.application,
            name=f"{request.parent}/applications/{request.application_id}",
            request_id=request.request_id,
            validate_only=request.validate_only,
            validate=check_application,
        )

    async def GetApplication(
        self, request: application_pb2.GetApplicationRequest, context: Any
    ) -> application_pb2.Application:
        return await self._applications.get(request.name)

    async def ListApplications(
        self, request: application_pb2.ListApplicationsRequest, context: Any
    ) -> application_pb2.ListApplicationsResponse:
        applications, next_page_token = await self._applications.list(
            parent=request.parent,
            page_size=request.page_size,
            page_token=request.page_token,
            filter_text=request.filter,
            hide_deleting=request.hide_deleting,
        )
        return application_pb2.ListApplicationsResponse(applications=applications, next_page_token=next_page_token)

    async def UpdateApplication(
        self, request: application_pb2.UpdateApplicationRequest, context: Any
    ) -> application_pb2.Application:
        return await self._applications.update(
            request.application,
            list(request.update_mask.paths),
            allow_missing=request.allow_missing,
            validate_only=request.validate_only,
            validate=check_application,
        )

    async def DeleteApplication(
        self, request: application_pb2.DeleteApplicationRequest, context: Any
    ) -> application_pb2.Application:
        return await self._applications.delete(
            request.name,
            etag=request.etag,
            allow_missing=request.allow_missing,
            validate_only=request.validate_only,
        )

    async def WatchApplications(
        self, request: application_pb2.WatchApplicationsRequest, context: Any
    ) -> AsyncIterator[application_pb2.WatchApplicationsResponse]:
        async for response in watch_resources(
            self._applications,
            self._redis,
            lambda kind, app, version: application_pb2.WatchApplicationsResponse(
                type=kind, application=app, resource_version=version),
            parent=request.parent,
            filter_text=request.filter,
            resource_version=request.resource_version,
            heartbeat_interval=self._heartbeat_interval,
        ):
            yield response
