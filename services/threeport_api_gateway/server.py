"""The gateway's gRPC server: the runtime's interceptors with the gateway's access check in
place of the service-credential one, health, reflection, and optional TLS or mutual TLS.

The runtime's ``GrpcServer`` always installs the backends' identity interceptor and binds
plaintext, which a public endpoint cannot use; this is the same server with those two choices
opened up (a candidate to move into the runtime).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from threeport_api_gateway.config import TlsSettings
from threeport_runtime.rpc.interceptors import ErrorMappingInterceptor, MetricsInterceptor, TracingInterceptor

Registrar = Callable[[grpc.aio.Server], None]

_MESSAGE_LIMIT = 16 * 1024 * 1024


class GatewayServer:
    def __init__(self, listen_address: str, access: Any, *, tls: TlsSettings | None = None):
        self._listen_address = listen_address
        self._tls = tls
        # Outermost first: the span covers everything, errors are mapped after the access check.
        interceptors: Sequence[Any] = [
            TracingInterceptor(),
            MetricsInterceptor(),
            ErrorMappingInterceptor(),
            access,
        ]
        self.server = grpc.aio.server(
            interceptors=interceptors,
            options=[
                ("grpc.max_receive_message_length", _MESSAGE_LIMIT),
                ("grpc.max_send_message_length", _MESSAGE_LIMIT),
                ("grpc.so_reuseport", 0),
            ],
        )
        # grpc_health ships the aio servicer without type stubs.
        self.health: Any = health.aio.HealthServicer()  # type: ignore[attr-defined]
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self._service_names: list[str] = []
        self.port = 0

    def add_service(self, full_name: str, register: Registrar) -> None:
        register(self.server)
        self._service_names.append(full_name)

    def add_generic_handler(self, handler: grpc.GenericRpcHandler[Any, Any], service_names: Sequence[str] = ()) -> None:
        """Adds a handler for many services (the proxy); ``service_names`` are listed by reflection."""
        self.server.add_generic_rpc_handlers([handler])
        self._service_names.extend(service_names)

    async def start(self) -> int:
        reflection.enable_server_reflection(
            [*self._service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], self.server
        )
        if self._tls is None:
            self.port = self.server.add_insecure_port(self._listen_address)
        else:
            self.port = self.server.add_secure_port(self._listen_address, _credentials(self._tls))
        await self.server.start()
        for name in ["", *self._service_names]:
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        return self.port

    async def stop(self, grace: float, drain_delay: float = 0.0) -> None:
        await self.health.enter_graceful_shutdown()
        if drain_delay > 0:
            await asyncio.sleep(drain_delay)
        await self.server.stop(grace)


def _credentials(tls: TlsSettings) -> grpc.ServerCredentials:
    client_ca = tls.client_ca_file.read_bytes() if tls.client_ca_file else None
    return grpc.ssl_server_credentials(
        [(tls.key_file.read_bytes(), tls.cert_file.read_bytes())],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )
