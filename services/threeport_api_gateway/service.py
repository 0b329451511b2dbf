"""Wires one gateway process: storage, access check, servicers, proxy, bootstrap, relay.

``start_gateway`` is what ``python -m threeport_api_gateway serve`` runs and what tests start
in-process, so both exercise the same code. It reuses the runtime's per-process resources
(``ServiceRuntime``: database, Redis, outbox, page tokens) and outbox relay; it does not use
``runtime.start_service`` because that installs the backends' service-credential check, where
the gateway needs token authentication.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from threeport.gateway.v1alpha1 import (
    audit_entry_pb2_grpc,
    principal_pb2_grpc,
    project_pb2_grpc,
    role_binding_pb2_grpc,
    token_pb2_grpc,
)
from threeport_api_gateway.access.authentication import TokenAuthenticator
from threeport_api_gateway.access.check import AccessCheck
from threeport_api_gateway.access.methods import MethodTable
from threeport_api_gateway.access.projects import ProjectGuard
from threeport_api_gateway.api.audit import AuditEntryService
from threeport_api_gateway.api.principals import PrincipalService
from threeport_api_gateway.api.projects import ProjectService
from threeport_api_gateway.api.role_bindings import RoleBindingService
from threeport_api_gateway.api.tokens import TokenIssuer, TokenService
from threeport_api_gateway.bootstrap import Preset, bootstrap_admin
from threeport_api_gateway.config import LOCAL_DOMAIN, GatewaySettings
from threeport_api_gateway.domain.ratelimit import RateLimiter
from threeport_api_gateway.http import bridge
from threeport_api_gateway.http.routes import RouteTable
from threeport_api_gateway.http.server import HttpGateway
from threeport_api_gateway.proxy.backends import Backends
from threeport_api_gateway.proxy.contents import ProjectContents
from threeport_api_gateway.proxy.handler import ProxyHandler
from threeport_api_gateway.store.audit import AuditLog
from threeport_api_gateway.store.identities import IdentityStore
from threeport_api_gateway.store.repositories import Repositories
from threeport_api_gateway.store.tables import SCHEMA
from threeport_api_gateway.tls import server_credentials
from threeport_runtime.bus.relay import OutboxRelay
from threeport_runtime.metrics_server import MetricsServer
from threeport_runtime.rpc.datastore_health import report_datastore_health
from threeport_runtime.rpc.server import GrpcServer
from threeport_runtime.runtime import ServiceRuntime
from threeport_runtime.tasks import cancel_and_wait

log = logging.getLogger(__name__)


BootstrapOutput = Callable[[str], None]


@dataclass
class RunningGateway:
    runtime: ServiceRuntime
    server: GrpcServer
    port: int
    authenticator: TokenAuthenticator
    access: AccessCheck
    backends: Backends
    bootstrap_token: str | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    http: HttpGateway | None = None
    metrics: MetricsServer | None = None

    @property
    def http_port(self) -> int:
        """The HTTP/JSON listener's port; 0 when it is off."""
        return self.http.port if self.http is not None else 0

    async def stop(self, grace: float = 5.0, drain_delay: float = 0.0) -> None:
        """NOT_SERVING, finish in-flight calls and audit writes, stop the relay, close."""
        if self.http is not None:
            await self.http.stop()
        await self.server.stop(grace, drain_delay)
        if self.metrics is not None:
            await self.metrics.stop()
        await self.access.drain()
        await self.authenticator.close()
        await cancel_and_wait(*self.tasks)
        await self.backends.close()
        await self.runtime.close()


async def start_gateway(settings: GatewaySettings) -> RunningGateway:
    runtime = ServiceRuntime(settings.runtime, SCHEMA)
    repositories = Repositories.create(runtime)
    identities = IdentityStore(runtime.db)
    authenticator = TokenAuthenticator(identities, cache_seconds=settings.auth_cache_seconds)
    audit = AuditLog(runtime.db, runtime.page_tokens)
    methods = MethodTable.load()
    limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
    bridge_secret = bridge.new_secret() if settings.http_listen_address else ""
    access = AccessCheck(
        methods,
        authenticator,
        limiter,
        audit,
        ProjectGuard(repositories.projects),
        credentials=authenticator,
        failed_sources=RateLimiter(settings.auth_failure_rate, settings.auth_failure_burst),
        bridge_secret=bridge_secret,
    )
    server = GrpcServer(
        settings.runtime.listen_address,
        access=access,
        credentials=server_credentials(settings.tls) if settings.tls else None,
        service=settings.runtime.service_name,
    )

    issuer = TokenIssuer(repositories, identities)
    backends = Backends(settings.backend_addresses, settings.runtime.service_credential)
    local = {
        "ProjectService": lambda s: project_pb2_grpc.add_ProjectServiceServicer_to_server(
            ProjectService(repositories, authenticator, ProjectContents(methods, backends)), s
        ),
        "PrincipalService": lambda s: principal_pb2_grpc.add_PrincipalServiceServicer_to_server(
            PrincipalService(repositories, authenticator), s
        ),
        "TokenService": lambda s: token_pb2_grpc.add_TokenServiceServicer_to_server(
            TokenService(repositories, identities, authenticator), s
        ),
        "RoleBindingService": lambda s: role_binding_pb2_grpc.add_RoleBindingServiceServicer_to_server(
            RoleBindingService(repositories, authenticator), s
        ),
        "AuditEntryService": lambda s: audit_entry_pb2_grpc.add_AuditEntryServiceServicer_to_server(
            AuditEntryService(audit), s
        ),
    }
    for service_name, register in local.items():
        server.add_service(f"threeport.{LOCAL_DOMAIN}.v1alpha1.{service_name}", register)

    public_services = sorted({m.service for m in methods.values() if m.domain != LOCAL_DOMAIN and not m.internal})
    server.add_generic_handler(ProxyHandler(methods, backends), public_services)

    preset = Preset(settings.bootstrap_token, identities) if settings.bootstrap_token else None
    token = await bootstrap_admin(runtime.db, repositories, issuer, settings.bootstrap_principal, preset)
    http: HttpGateway | None = None
    if settings.http_listen_address:
        # HTTP calls enter through this loopback port, so the access check above applies to them
        # as to any gRPC call (the public port may be TLS with client certificates).
        loopback_port = server.server.add_insecure_port("127.0.0.1:0")
        http = HttpGateway(RouteTable.load(methods), f"127.0.0.1:{loopback_port}", bridge_secret, settings.tls)
    port = await server.start()
    if http is not None:
        await http.start(settings.http_listen_address)
    running = RunningGateway(runtime, server, port, authenticator, access, backends, bootstrap_token=token, http=http)
    relay = OutboxRelay(runtime.db, SCHEMA, runtime.redis)
    running.tasks.append(asyncio.create_task(relay.run(), name="outbox relay"))
    running.tasks.append(
        asyncio.create_task(report_datastore_health(server.health, runtime.db, runtime.redis), name="datastore health")
    )
    running.metrics = await runtime.start_metrics()
    log.info(
        "api gateway started",
        extra={
            "port": port,
            "http_port": running.http_port,
            "tls": settings.tls is not None,
            "backends": dict(settings.backend_addresses),
        },
    )
    return running
