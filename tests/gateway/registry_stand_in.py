"""A minimal registry for proxy tests: a real gRPC peer behind the runtime's server plumbing.

The registry service is not built yet, so this stands in for it on the network: it runs the
runtime's ``GrpcServer`` with the backends' service-credential authenticator (so forged
identity headers are refused exactly as in a real backend) and implements just enough of
ApplicationService and ClusterProfileService. It records what the gateway forwarded: raw
request bytes, identity headers and the deadline left.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc

from threeport.common.v1alpha1 import watch_pb2
from threeport.registry.v1alpha1 import application_pb2 as app_pb2
from threeport.registry.v1alpha1 import cluster_profile_pb2 as profile_pb2
from threeport.registry.v1alpha1 import cluster_profile_pb2_grpc as profile_grpc
from threeport_runtime.errors import FieldViolation, InvalidArgument
from threeport_runtime.rpc.identity import ServiceCredentialAuthenticator, caller
from threeport_runtime.rpc.server import GrpcServer
from threeport_runtime.testing import TEST_CREDENTIAL

APPLICATION_SERVICE = "threeport.registry.v1alpha1.ApplicationService"

# An Application encoded with an unknown field (99) *before* field 1. Protobuf encoders always
# write known fields first, so these exact bytes survive only if nobody re-encodes them.
NON_CANONICAL_APPLICATION = (
    b"\x9a\x06\x03odd" + app_pb2.Application(name="projects/a/applications/raw").SerializeToString()
)


@dataclass
class Seen:
    """One call as the backend received it."""

    method: str
    principal: str
    grants: str
    metadata: dict[str, str]
    time_remaining: float | None
    raw_request: bytes = b""


@dataclass
class RegistryStandIn:
    calls: list[Seen] = field(default_factory=list)
    server: GrpcServer | None = None
    port: int = 0

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.server = GrpcServer("127.0.0.1:0", ServiceCredentialAuthenticator(TEST_CREDENTIAL))
        self.server.add_service(APPLICATION_SERVICE, lambda s: s.add_generic_rpc_handlers([self._applications()]))
        self.server.add_service(
            "threeport.registry.v1alpha1.ClusterProfileService",
            lambda s: profile_grpc.add_ClusterProfileServiceServicer_to_server(_Profiles(self), s),
        )
        self.port = await self.server.start()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop(0)

    def record(self, method: str, context: Any, raw_request: bytes = b"") -> None:
        metadata = {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}
        who = caller()
        self.calls.append(
            Seen(
                method=method,
                principal=who.principal,
                grants=metadata.get("x-threeport-roles", ""),
                metadata=metadata,
                time_remaining=context.time_remaining(),
                raw_request=raw_request,
            )
        )

    def _applications(self) -> grpc.GenericRpcHandler[Any, Any]:
        stand_in = self
        last_raw: list[bytes] = []

        def keep_raw(data: bytes) -> app_pb2.GetApplicationRequest:
            last_raw.append(data)
            return app_pb2.GetApplicationRequest.FromString(data)

        async def get(request: app_pb2.GetApplicationRequest, context: Any) -> bytes:
            stand_in.record("GetApplication", context, last_raw.pop())
            if request.name.endswith("/slow"):
                await asyncio.sleep(30)
            return NON_CANONICAL_APPLICATION

        async def create(request: app_pb2.CreateApplicationRequest, context: Any) -> app_pb2.Application:
            stand_in.record("CreateApplication", context)
            if not request.application.spec.components:
                raise InvalidArgument.for_fields(
                    [FieldViolation("application.spec.components", "must name at least one component")]
                )
            return app_pb2.Application(name=f"{request.parent}/applications/{request.application_id}", reconciling=True)

        async def watch(
            request: app_pb2.WatchApplicationsRequest, context: Any
        ) -> AsyncIterator[app_pb2.WatchApplicationsResponse]:
            stand_in.record("WatchApplications", context)
            for index in range(3):
                yield app_pb2.WatchApplicationsResponse(
                    type=watch_pb2.WATCH_EVENT_TYPE_ADDED,
                    application=app_pb2.Application(name=f"{request.parent}/applications/app-{index}"),
                )

        return grpc.method_handlers_generic_handler(
            APPLICATION_SERVICE,
            {
                "GetApplication": grpc.unary_unary_rpc_method_handler(
                    get, request_deserializer=keep_raw, response_serializer=lambda raw: raw
                ),
                "CreateApplication": grpc.unary_unary_rpc_method_handler(
                    create,
                    request_deserializer=app_pb2.CreateApplicationRequest.FromString,
                    response_serializer=app_pb2.Application.SerializeToString,
                ),
                "WatchApplications": grpc.unary_stream_rpc_method_handler(
                    watch,
                    request_deserializer=app_pb2.WatchApplicationsRequest.FromString,
                    response_serializer=app_pb2.WatchApplicationsResponse.SerializeToString,
                ),
            },
        )


class _Profiles(profile_grpc.ClusterProfileServiceServicer):
    def __init__(self, stand_in: RegistryStandIn):
        self._stand_in = stand_in

    async def CreateClusterProfile(
        self, request: profile_pb2.CreateClusterProfileRequest, context: Any
    ) -> profile_pb2.ClusterProfile:
        self._stand_in.record("CreateClusterProfile", context)
        return profile_pb2.ClusterProfile(
            name=f"clusterProfiles/{request.cluster_profile_id}", spec=request.cluster_profile.spec
        )
