"""Fixtures: one Kubernetes API emulator per session, and per test a migrated throwaway database
and a cluster-manager started in-process with the runtime's testing helpers.

Tests talk to the service only through the SDK (``AsyncClient``), as an operator forwarded by
the gateway would, or as another service for the internal APIs. Probe, provisioning and GC
intervals are short through the service's own environment variables.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from threeport.sdk import AsyncClient
from threeport_cluster_manager.service import DEFINITION
from threeport_kubesim.control import ClusterInfo
from threeport_kubesim.testing import EmulatorHandle, run_emulator
from threeport_runtime.config import EncryptionKey
from threeport_runtime.db.migrations import upgrade
from threeport_runtime.reconcile.controller import ControllerOptions
from threeport_runtime.runtime import RunningService
from threeport_runtime.testing import (  # noqa: F401 - fixtures
    TEST_CREDENTIAL,
    database_url,
    make_encryption_keys,
    make_settings,
    redis_client,
    start_test_service,
    stream_prefix,
)

FAST_CONTROLLERS = ControllerOptions(
    workers=4, resync_interval=600.0, lease_ttl=3.0, claim_idle_ms=300, claim_interval=0.2, max_deliveries=3
)
SERVICE_IDENTITY = (("authorization", f"Service {TEST_CREDENTIAL}"), ("x-threeport-service", "workload-delivery"))
OPERATOR = (
    ("authorization", f"Service {TEST_CREDENTIAL}"),
    ("x-threeport-principal", "ops@example.com"),
    ("x-threeport-roles", "operator"),
)
FAST_ENV = {
    "THREEPORT_CLUSTER_PROBE_INTERVAL_SECONDS": "0.3",
    # Every probe writes its heartbeat and re-applies the onboarding objects, as many tests here
    # wait for the next probe by its ``last_probe_time``; test_health checks the default refresh.
    "THREEPORT_CLUSTER_STATUS_REFRESH_SECONDS": "0.3",
    "THREEPORT_CLUSTER_PROBE_TIMEOUT_SECONDS": "2",
    "THREEPORT_CLUSTER_GC_GRACE_SECONDS": "1",
    "THREEPORT_CLUSTER_PROVISION_POLL_SECONDS": "0.2",
}


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorHandle]:
    with run_emulator([], speed=50) as handle:
        yield handle


@dataclass
class Kube:
    """The session's emulator, creating uniquely named clusters for one test."""

    handle: EmulatorHandle
    created: list[str]

    def cluster(self, stem: str, nodes: int = 1) -> ClusterInfo:
        name = f"{stem}-{uuid.uuid4().hex[:6]}"
        self.created.append(name)
        return self.handle.add_cluster(name, nodes=nodes)

    def kubeconfig(self, info: ClusterInfo) -> str:
        with open(info.kubeconfig_path, encoding="utf-8") as handle:
            return handle.read()


@pytest.fixture
def kube(emulator: EmulatorHandle) -> Iterator[Kube]:
    helper = Kube(emulator, [])
    yield helper
    for name in helper.created:
        try:
            emulator.control.clear_faults(name)
            emulator.remove_cluster(name)
        except Exception:
            pass


@dataclass
class ClusterManager:
    service: RunningService
    client: AsyncClient
    internal: AsyncClient
    database_url: str
    keys: tuple[EncryptionKey, ...]


@pytest.fixture
async def migrated(database_url: str) -> str:  # noqa: F811
    await asyncio.to_thread(upgrade, DEFINITION.migrations_dir, database_url)
    return database_url


@pytest.fixture
def manager_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """The cluster-manager's settings: ``FAST_ENV``, or a test's own through
    ``@pytest.mark.parametrize("manager_env", [...], indirect=True)``."""
    return dict(getattr(request, "param", FAST_ENV))


@pytest.fixture
async def manager(
    migrated: str,
    stream_prefix: str,  # noqa: F811
    redis_client: object,  # noqa: F811
    emulator: EmulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
    manager_env: dict[str, str],
) -> AsyncIterator[ClusterManager]:
    for key, value in manager_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("THREEPORT_KUBESIM_URL", emulator.control_url)
    monkeypatch.delenv("THREEPORT_BACKEND_INFRA", raising=False)
    keys = make_encryption_keys("k1")
    settings = make_settings("cluster_manager", migrated, stream_prefix, encryption_keys=keys)
    service = await start_test_service(DEFINITION, settings, FAST_CONTROLLERS)
    target = f"127.0.0.1:{service.port}"
    client = AsyncClient(target, metadata=OPERATOR)
    internal = AsyncClient(target, metadata=SERVICE_IDENTITY)
    try:
        yield ClusterManager(service, client, internal, migrated, keys)
    finally:
        await client.close()
        await internal.close()
        await service.stop(grace=1.0)
