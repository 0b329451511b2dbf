"""The gRPC aio server of a service: its one interceptor layer, health, reflection and graceful stop.

On stop, every health status flips to NOT_SERVING first so load balancers and clients stop
sending new calls, then in-flight calls get ``grace`` seconds to finish.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from threeport_runtime.rpc.caller_check import CallerCheck
from threeport_runtime.rpc.identity import Authenticator
from threeport_runtime.rpc.interceptors import Access, ServerLayer
from threeport_runtime.rpc.limits import CLIENT_RECEIVE_BYTES, TRANSPORT_LIMIT_BYTES

Registrar = Callable[[grpc.aio.Server], None]


class GrpcServer:
    """A service's server. Backends authenticate callers by the service credential
    (``authenticate``, checked by ``CallerCheck``); a public endpoint (the gateway) passes its
    own ``access`` concern instead, and ``credentials`` for TLS or mutual TLS. ``service`` names
    the service in errors (e.g. which one cannot reach its database)."""

    def __init__(
        self,
        listen_address: str,
        authenticate: Authenticator | None = None,
        *,
        enforce_policies: bool = True,
        extra_interceptors: Sequence[Any] = (),
        access: Access | None = None,
        credentials: grpc.ServerCredentials | None = None,
        service: str = "",
    ):
        if (authenticate is None) == (access is None):
            raise ValueError("give exactly one of authenticate (backends) and access (a public endpoint)")
        self._listen_address = listen_address
        self._credentials = credentials
        if access is None:
            assert authenticate is not None
            access = CallerCheck(authenticate, enforce_policies=enforce_policies)
        # One layer: the span, metrics, error mapping and request checks around ``access``.
        layer = ServerLayer(access, service=service)
        self.server = grpc.aio.server(
            interceptors=[layer, *extra_interceptors],
            options=[
                ("grpc.max_receive_message_length", TRANSPORT_LIMIT_BYTES),
                # Never send what no client can read: such a response fails here, clearly.
                ("grpc.max_send_message_length", CLIENT_RECEIVE_BYTES),
                ("grpc.so_reuseport", 0),
            ],
        )
        # The aio servicer is not in the type stubs.
        self.health: Any = health.aio.HealthServicer()  # type: ignore[attr-defined]
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self._service_names: list[str] = []
        self.port = 0

    def add_service(self, full_name: str, register: Registrar) -> None:
        """Registers a servicer, e.g. ``add_service("threeport.registry.v1alpha1.ApplicationService",
        lambda s: add_ApplicationServiceServicer_to_server(servicer, s))``."""
        register(self.server)
        self._service_names.append(full_name)

    def add_servicer(self, full_name: str, add_to_server: Callable[[Any, Any], None], servicer: Any) -> None:
        """Registers ``servicer`` with its generated ``add_XServicer_to_server`` function."""
        self.add_service(full_name, lambda grpc_server: add_to_server(servicer, grpc_server))

    def add_generic_handler(self, handler: Any, service_names: Sequence[str] = ()) -> None:
        """Adds a handler serving many services (the gateway's proxy); ``service_names`` are
        listed by reflection and health."""
        self.server.add_generic_rpc_handlers([handler])
        self._service_names.extend(service_names)

    async def start(self) -> int:
        """Binds, starts and reports SERVING; returns the bound port (useful with port 0)."""
        reflection.enable_server_reflection(
            [*self._service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], self.server
        )
        if self._credentials is None:
            self.port = self.server.add_insecure_port(self._listen_address)
        else:
            self.port = self.server.add_secure_port(self._listen_address, self._credentials)
        await self.server.start()
        for name in ["", *self._service_names]:
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        return self.port

    async def stop(self, grace: float, drain_delay: float = 0.0) -> None:
        """NOT_SERVING first, optionally wait for balancers to notice, then a graceful stop."""
        await self.health.enter_graceful_shutdown()
        if drain_delay > 0:
            await asyncio.sleep(drain_delay)
        await self.server.stop(grace)

    async def wait_for_termination(self) -> None:
        await self.server.wait_for_termination()
