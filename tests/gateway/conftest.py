"""Fixtures: a migrated throwaway database, a registry stand-in, and a gateway on a free port.

The gateway runs in the test's event loop (``start_gateway``, the code ``serve`` runs) and is
reached only over gRPC with the SDK's ``AsyncClient``. The database is migrated once per
session and its tables are emptied before each test.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest

from threeport.common.v1alpha1 import annotations_pb2
from threeport.gateway.v1alpha1 import principal_pb2, role_binding_pb2
from threeport.sdk import NO_RETRY, AsyncClient
from threeport_api_gateway.config import GatewaySettings
from threeport_api_gateway.migrations import MIGRATIONS_DIR
from threeport_api_gateway.service import RunningGateway, start_gateway
from threeport_api_gateway.store.tables import SCHEMA
from threeport_runtime.bus.streams import connect_redis
from threeport_runtime.db.engine import libpq_url
from threeport_runtime.db.migrations import upgrade
from threeport_runtime.telemetry import configure_telemetry
from threeport_runtime.testing import (
    ADMIN_DATABASE_URL,
    delete_streams,
    free_port,
    make_settings,
    unique_stream_prefix,
)

from .registry_stand_in import RegistryStandIn

ROLE = {
    "viewer": annotations_pb2.ROLE_VIEWER,
    "deployer": annotations_pb2.ROLE_DEPLOYER,
    "admin": annotations_pb2.ROLE_ADMIN,
    "operator": annotations_pb2.ROLE_OPERATOR,
}


def _database_url(name: str) -> str:
    return f"{ADMIN_DATABASE_URL.rpartition('/')[0]}/{name}"


def _admin_execute(statement: str) -> None:
    with psycopg.connect(libpq_url(ADMIN_DATABASE_URL), autocommit=True) as admin:
        admin.execute(statement)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def migrated_database() -> Iterator[str]:
    """One database for the session, migrated once; each test starts from emptied tables."""
    name = f"tp_gw_test_{uuid.uuid4().hex[:8]}"
    _admin_execute(f'CREATE DATABASE "{name}"')
    try:
        upgrade(MIGRATIONS_DIR, _database_url(name))
        yield _database_url(name)
    finally:
        _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(migrated_database: str) -> str:
    # Emptying tables is ten times faster than creating a database per test.
    tables = ", ".join(f'"gateway"."{table.name}"' for table in SCHEMA.metadata.sorted_tables)
    with psycopg.connect(libpq_url(migrated_database), autocommit=True) as connection:
        connection.execute(f"TRUNCATE {tables}")  # type: ignore[arg-type]
    return migrated_database


@pytest.fixture
async def registry() -> AsyncIterator[RegistryStandIn]:
    stand_in = RegistryStandIn()
    await stand_in.start()
    try:
        yield stand_in
    finally:
        await stand_in.stop()


@dataclass
class World:
    """A running gateway and ways to reach it as different principals."""

    gateway: RunningGateway
    settings: GatewaySettings
    database_url: str
    registry: RegistryStandIn
    admin_token: str
    clients: list[AsyncClient] = field(default_factory=list)
    _admin: AsyncClient | None = None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.gateway.port}"

    def client(self, token: str | None = None, **options: Any) -> AsyncClient:
        options.setdefault("retry", NO_RETRY)
        opened = AsyncClient(self.target, token=token, **options)
        self.clients.append(opened)
        return opened

    @property
    def admin(self) -> AsyncClient:
        if self._admin is None:
            self._admin = self.client(self.admin_token)
        return self._admin

    async def project(self, project_id: str) -> str:
        created = await self.admin.project.create_project(project_id=project_id)
        return created.name

    async def principal(self, principal_id: str, *grants: tuple[str, str]) -> str:
        """Creates a principal with role bindings ``(role, project)``; returns a token for it."""
        admin = self.admin
        name = (
            await admin.principal.create_principal(
                principal_id=principal_id,
                principal=principal_pb2.Principal(
                    spec=principal_pb2.PrincipalSpec(type=principal_pb2.PRINCIPAL_TYPE_SERVICE_ACCOUNT)
                ),
            )
        ).name
        for index, (role, project) in enumerate(grants):
            await admin.role_binding.create_role_binding(
                role_binding_id=f"{principal_id}-{index}",
                role_binding=role_binding_pb2.RoleBinding(
                    spec=role_binding_pb2.RoleBindingSpec(principal=name, role=ROLE[role], project=project)
                ),
            )
        created = await admin.token.create_token(parent=name)
        return created.secret


def gateway_settings(
    database_url: str, stream_prefix: str, registry: RegistryStandIn, **changes: Any
) -> GatewaySettings:
    settings = GatewaySettings(
        runtime=make_settings("api-gateway", database_url, stream_prefix),
        backend_addresses={
            "registry": registry.target,
            # Configured, but nothing listens there.
            "delivery": f"127.0.0.1:{free_port()}",
        },
        rate_limit_per_second=0,
    )
    return GatewaySettings(**{**settings.__dict__, **changes})


@pytest.fixture
async def stream_prefix() -> AsyncIterator[str]:
    prefix = unique_stream_prefix()
    yield prefix
    redis = connect_redis("redis://127.0.0.1:6379/0")
    try:
        await delete_streams(redis, prefix)
    finally:
        await redis.aclose()


@pytest.fixture
async def world(database_url: str, stream_prefix: str, registry: RegistryStandIn) -> AsyncIterator[World]:
    async with open_world(gateway_settings(database_url, stream_prefix, registry), registry) as running:
        yield running


@asynccontextmanager
async def open_world(settings: GatewaySettings, registry: RegistryStandIn) -> AsyncIterator[World]:
    """Starts a gateway with these settings; stops it and the clients opened on it afterwards."""
    database_url = settings.runtime.database_url
    # As `serve` does, so that calls carry trace ids (a no-op if a provider is already set).
    configure_telemetry("api-gateway")
    gateway = await start_gateway(settings)
    assert gateway.bootstrap_token is not None
    running = World(gateway, settings, database_url, registry, gateway.bootstrap_token)
    try:
        yield running
    finally:
        for opened in running.clients:
            await opened.close()
        # Tests may replace the gateway (a restart); stop whichever runs now.
        await running.gateway.stop(grace=0)


async def query(database_url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Reads the gateway's tables directly, to check what is (not) stored."""
    async with await psycopg.AsyncConnection.connect(libpq_url(database_url)) as connection:
        cursor = await connection.execute(sql, params)  # type: ignore[arg-type]
        return list(await cursor.fetchall())
