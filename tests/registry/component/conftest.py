"""A migrated registry service on a throwaway database, and SDK clients acting as given roles."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from threeport.sdk import NO_RETRY, AsyncClient
from threeport_registry.service import DEFINITION
from threeport_runtime.db.migrations import upgrade
from threeport_runtime.reconcile.controller import ControllerOptions
from threeport_runtime.runtime import RunningService
from threeport_runtime.testing import (  # noqa: F401 - fixtures
    TEST_CREDENTIAL,
    database_url,
    make_settings,
    redis_client,
    start_test_service,
    stream_prefix,
)

FAST = ControllerOptions(workers=2, resync_interval=600.0, lease_ttl=2.0, claim_idle_ms=300, claim_interval=0.2)
DEPLOYER = "deployer@projects/acme"
OPERATOR = "operator"

ClientFor = Callable[[str], AsyncClient]


@pytest.fixture
async def registry(database_url: str, stream_prefix: str, redis_client: object) -> AsyncIterator[RunningService]:  # noqa: F811
    await asyncio.to_thread(upgrade, DEFINITION.migrations_dir, database_url)
    service = await start_test_service(DEFINITION, make_settings("registry", database_url, stream_prefix), FAST)
    try:
        yield service
    finally:
        await service.stop(grace=1.0)


@pytest.fixture
async def client_as(registry: RunningService) -> AsyncIterator[ClientFor]:
    """``client_as("deployer@projects/acme")``: an SDK client the way the gateway would call."""
    opened: list[AsyncClient] = []

    def make(roles: str, principal: str = "principals/alice") -> AsyncClient:
        metadata = [
            ("authorization", f"Service {TEST_CREDENTIAL}"),
            ("x-threeport-principal", principal),
            ("x-threeport-roles", roles),
        ]
        client = AsyncClient(f"127.0.0.1:{registry.port}", metadata=metadata, retry=NO_RETRY)
        opened.append(client)
        return client

    yield make
    for client in opened:
        await client.close()
