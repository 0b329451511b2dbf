"""The per-process wiring of a service: settings, database, Redis, outbox, relay, server and
controllers, with start and graceful stop. ``cli.main`` drives it for production and
``testing.start_service`` for tests, so both run the same code.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message
from redis.asyncio import Redis

from threeport.sdk import DEFAULT_RETRY, AsyncClient, RetryPolicy
from threeport_runtime.bus.backlog import BusBacklog, Subscription
from threeport_runtime.bus.outbox import Outbox
from threeport_runtime.bus.relay import OutboxRelay
from threeport_runtime.bus.streams import connect_redis
from threeport_runtime.config import Settings
from threeport_runtime.crypto import FieldCipher
from threeport_runtime.db.engine import Database
from threeport_runtime.db.page_tokens import PageTokenCodec
from threeport_runtime.db.repository import ResourceRepository
from threeport_runtime.db.schema import ResourceRow, ServiceSchema
from threeport_runtime.heap import trim_heap_forever
from threeport_runtime.kube.pool import CredentialSource, KubePool
from threeport_runtime.metrics_server import MetricsServer
from threeport_runtime.reconcile.controller import Controller, ControllerOptions, Reconciler
from threeport_runtime.reconcile.events import EventLister, EventRecorder
from threeport_runtime.reconcile.spec import ControllerSpec
from threeport_runtime.reencrypt import EncryptedStore
from threeport_runtime.rpc.client import service_channel
from threeport_runtime.rpc.datastore_health import report_datastore_health
from threeport_runtime.rpc.identity import ServiceCredentialAuthenticator
from threeport_runtime.rpc.server import GrpcServer
from threeport_runtime.tasks import cancel_and_wait
from threeport_runtime.telemetry import configure_telemetry

log = logging.getLogger(__name__)

M = TypeVar("M", bound=Message)
R = TypeVar("R", bound=ResourceRow)


class ServiceRuntime:
    """Shared resources of one service process, and factories bound to them."""

    def __init__(self, settings: Settings, schema: ServiceSchema, controller_options: ControllerOptions | None = None):
        self.settings = settings
        self.controller_options = controller_options or ControllerOptions(
            workers=settings.reconcile_workers,
            resync_interval=settings.resync_interval_seconds,
            reconcile_timeout=settings.reconcile_timeout_seconds,
        )
        self.schema = schema
        self.db = Database(settings.database_url, pool_size=settings.pool_size)
        self.redis: Redis = connect_redis(settings.redis_url)
        self.outbox = Outbox(schema, service=settings.service_name, stream_prefix=settings.stream_prefix)
        # Page tokens only need integrity, and every replica must agree on the key.
        self.page_tokens = PageTokenCodec(
            hashlib.sha256(b"threeport-page-token:" + settings.service_credential.encode()).digest()
        )
        self.cipher = FieldCipher(settings.encryption_keys) if settings.encryption_keys else None
        self.controllers: list[Controller] = []
        self.background: list[tuple[str, Callable[[], Coroutine[Any, Any, None]]]] = []
        self._kube_pools: list[KubePool] = []
        self._channels: list[grpc.aio.Channel] = []

    def repository(
        self,
        row_type: type[R],
        message_type: type[M],
        *,
        filter_fields: dict[str, str] | None = None,
        secret_paths: tuple[str, ...] = (),
        owner_field: str = "",
        children: Sequence[ResourceRepository[Any, Any]] = (),
        finalizers_on_create: Sequence[str] = (),
    ) -> ResourceRepository[M, R]:
        return ResourceRepository(
            self.db,
            self.outbox,
            row_type=row_type,
            message_type=message_type,
            page_tokens=self.page_tokens,
            filter_fields=filter_fields,
            secret_paths=secret_paths,
            cipher=self.cipher if secret_paths else None,
            owner_field=owner_field,
            children=children,
            finalizers_on_create=finalizers_on_create,
        )

    def controller(
        self, spec: ControllerSpec, reconcile: Reconciler, *, options: ControllerOptions | None = None
    ) -> Controller:
        """Creates the controller ``spec`` declares; it starts and stops with the service."""
        controller = Controller(
            spec.name,
            reconcile,
            redis=self.redis,
            stream_prefix=self.settings.stream_prefix,
            watches=spec.all_watches(),
            list_keys=spec.for_.list_keys,
            on_permanent_error=spec.for_.on_permanent_error,
            options=options or self.controller_options,
        )
        self.controllers.append(controller)
        return controller

    def run_in_background(self, name: str, run: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """``run()`` as a task that starts and stops with the service (e.g. a cache's feed)."""
        self.background.append((name, run))

    def service_client(self, target: str, *, retry: RetryPolicy = DEFAULT_RETRY) -> AsyncClient:
        """An SDK client for another service's internal and public APIs. Every call carries this
        service's credential and name, the current trace context and a default deadline
        (``service_channel``); the channel closes with the service."""
        channel = service_channel(
            target, service_name=self.settings.service_name, credential=self.settings.service_credential
        )
        self._channels.append(channel)
        return AsyncClient(channel=channel, retry=retry)

    def kube_pool(self, source: CredentialSource | None = None, *, call_timeout: float = 10.0) -> KubePool:
        """One Kubernetes client per cluster (see ``KubePool``), closed with the service."""
        pool = KubePool(source, call_timeout=call_timeout)
        self._kube_pools.append(pool)
        return pool

    @property
    def kube_pools(self) -> list[KubePool]:
        """The pools made by ``kube_pool`` (to look at their clusters' caches)."""
        return list(self._kube_pools)

    def event_recorder(self, controller: str) -> EventRecorder:
        return EventRecorder(self.db, self.schema, source=f"{self.settings.service_name}/{controller}")

    def event_lister(self) -> EventLister:
        return EventLister(self.db, self.schema, self.page_tokens)

    async def start_metrics(self) -> MetricsServer | None:
        """Serves /metrics on ``metrics_listen_address`` (None when it is not set), with the bus
        backlog of this process's controllers and outbox."""
        if not self.settings.metrics_listen_address:
            return None
        subscriptions = [Subscription(s, c.name) for c in self.controllers for s in c.watched_streams]
        backlog = BusBacklog(self.redis, self.db, self.schema, subscriptions)
        server = MetricsServer([backlog.sample])
        await server.start(self.settings.metrics_listen_address)
        return server

    async def close(self) -> None:
        for pool in self._kube_pools:
            await pool.close()
        for channel in self._channels:
            await channel.close(None)
        await self.redis.aclose()
        await self.db.dispose()


Setup = Callable[[ServiceRuntime, GrpcServer], Awaitable[None]]


@dataclass(frozen=True)
class ServiceDefinition:
    """What a service tells the runtime: its name, schema, migrations and how to wire itself."""

    name: str
    schema: ServiceSchema
    migrations_dir: Path
    setup: Setup
    run_relay: bool = True
    # What the service stores encrypted, for `python -m threeport_<service> reencrypt`.
    encrypted_stores: Callable[[ServiceRuntime], Sequence[EncryptedStore]] | None = None


@dataclass
class RunningService:
    runtime: ServiceRuntime
    server: GrpcServer
    port: int
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    metrics: MetricsServer | None = None

    async def stop(self, grace: float = 5.0, drain_delay: float = 0.0) -> None:
        """Graceful stop: NOT_SERVING, finish in-flight calls, stop background work, close."""
        await self.server.stop(grace, drain_delay)
        if self.metrics is not None:
            await self.metrics.stop()
        await cancel_and_wait(*self.tasks)
        await self.runtime.close()


async def start_service(
    definition: ServiceDefinition, settings: Settings, controller_options: ControllerOptions | None = None
) -> RunningService:
    """Wires and starts the service: server first, then the relay and controllers."""
    configure_telemetry(settings.service_name, settings.otlp_endpoint)
    runtime = ServiceRuntime(settings, definition.schema, controller_options)
    server = GrpcServer(
        settings.listen_address,
        ServiceCredentialAuthenticator(settings.service_credential),
        service=settings.service_name,
    )
    await definition.setup(runtime, server)
    port = await server.start()
    running = RunningService(runtime, server, port)
    running.tasks.append(
        asyncio.create_task(
            report_datastore_health(server.health, runtime.db, runtime.redis), name="datastore health"
        )
    )
    running.tasks.append(asyncio.create_task(trim_heap_forever(), name="heap trim"))
    if definition.run_relay:
        relay = OutboxRelay(runtime.db, definition.schema, runtime.redis)
        running.tasks.append(asyncio.create_task(relay.run(), name="outbox relay"))
    for controller in runtime.controllers:
        running.tasks.append(asyncio.create_task(controller.run(), name=f"controller {controller.name}"))
    for name, run in runtime.background:
        running.tasks.append(asyncio.create_task(run(), name=name))
    running.metrics = await runtime.start_metrics()
    log.info(
        "service started",
        extra={
            "port": port,
            "metrics_port": running.metrics.port if running.metrics else 0,
            "controllers": [c.name for c in runtime.controllers],
        },
    )
    return running
