"""The addon test world: one Kubernetes API emulator per session; per test a throwaway database
migrated for the cluster-manager and the addon-manager, both started in-process, and one
emulated cluster attached. Tests call the addon-manager as an operator (catalog, installations)
and as a service (claims), the way the gateway and workload-delivery would.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format

from tests.addons.charts import chart_repository, oci_registry  # noqa: F401 - fixtures
from tests.delivery.conftest import Kube, client, condition, emulator, is_ready  # noqa: F401 - shared test world
from threeport.addons.v1alpha1 import addon_claim_pb2, addon_pb2
from threeport.sdk import AsyncClient
from threeport_addon_manager.service import DEFINITION as ADDONS
from threeport_cluster_manager.service import DEFINITION as CLUSTERS
from threeport_kubesim.testing import EmulatorHandle
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
    wait_until,
)

FAST = ControllerOptions(
    workers=4, resync_interval=600.0, lease_ttl=3.0, claim_idle_ms=300, claim_interval=0.2, max_deliveries=3
)
WITHIN = 45.0
OPERATOR = [
    ("authorization", f"Service {TEST_CREDENTIAL}"),
    ("x-threeport-principal", "principals/ops"),
    ("x-threeport-roles", "operator"),
]
SERVICE = [("authorization", f"Service {TEST_CREDENTIAL}"), ("x-threeport-service", "workload-delivery")]


@dataclass
class Stack:
    addons: RunningService
    clusters: RunningService
    kube: Kube
    cluster: str
    operator: AsyncClient
    service: AsyncClient
    opened: list[AsyncClient] = field(default_factory=list)

    async def apply_addon(self, manifest: dict[str, Any]) -> addon_pb2.Addon:
        """Creates or replaces a catalog entry from a `kind: Addon` manifest's spec."""
        addon = json_format.ParseDict({"spec": manifest["spec"]}, addon_pb2.Addon())
        addon.name = f"addons/{manifest['metadata']['name']}"
        return await self.operator.addon.update_addon(addon=addon, allow_missing=True)

    async def claim(self, claim_id: str, type_name: str, owner: str, **spec: Any) -> addon_claim_pb2.AddonClaim:
        message = json_format.ParseDict(
            {"spec": {"owner": owner, "type": type_name, "cluster": self.cluster, **spec}}, addon_claim_pb2.AddonClaim()
        )
        return await self.service.internal.addon_claim.create_addon_claim(addon_claim=message, addon_claim_id=claim_id)

    async def installation_when(self, name: str, check: Any, what: str, within: float = WITHIN) -> Any:
        last: list[Any] = []

        async def probe() -> Any:
            try:
                found = await self.operator.addon_installation.get_addon_installation(name=name)
            except Exception:
                return None
            last[:] = [found]
            return found if check(found) else None

        try:
            return await wait_until(probe, within=within, interval=0.1, what=what)
        except AssertionError as timeout:
            seen = last[0] if last else None
            detail = (
                "never read"
                if seen is None
                else "; ".join(f"{c.type}={c.status} {c.reason}: {c.message}" for c in seen.conditions)
            )
            raise AssertionError(f"{timeout}; last seen: {detail}") from None

    async def claim_when(self, name: str, check: Any, what: str, within: float = WITHIN) -> Any:
        async def probe() -> Any:
            found = await self.service.internal.addon_claim.get_addon_claim(name=name)
            return found if check(found) else None

        return await wait_until(probe, within=within, interval=0.1, what=what)

    async def installations(self) -> list[str]:
        page = await self.operator.addon_installation.list_addon_installations_page(page_size=100, hide_deleting=True)
        return sorted(i.name for i in page.addon_installations)

    async def events(self, name: str) -> list[Any]:
        page = await self.operator.addons_event.list_events_page(parent=name, page_size=100)
        return list(page.events)


@pytest.fixture
def registry_backend() -> str:
    """Where the addon-manager finds the registry (its AddonProfiles); none unless a test module
    overrides this fixture with a running registry."""
    return ""


@pytest.fixture
def infra_backend() -> str:
    """Where the addon-manager finds the infra-provider (AWS credentials for addons); none unless
    a test module overrides this fixture with a running infra-provider."""
    return ""


@pytest.fixture
async def stack(
    database_url: str,  # noqa: F811
    stream_prefix: str,  # noqa: F811
    redis_client: object,  # noqa: F811
    emulator: EmulatorHandle,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    registry_backend: str,
    infra_backend: str,
) -> AsyncIterator[Stack]:
    for definition in (CLUSTERS, ADDONS):
        await asyncio.to_thread(upgrade, definition.migrations_dir, database_url)
    monkeypatch.setenv("THREEPORT_KUBESIM_URL", emulator.control_url)
    monkeypatch.setenv("THREEPORT_CLUSTER_PROBE_INTERVAL_SECONDS", "0.5")
    if infra_backend:
        monkeypatch.setenv("THREEPORT_BACKEND_INFRA", infra_backend)
    else:
        monkeypatch.delenv("THREEPORT_BACKEND_INFRA", raising=False)
    if registry_backend:
        monkeypatch.setenv("THREEPORT_BACKEND_REGISTRY", registry_backend)
    else:
        monkeypatch.delenv("THREEPORT_BACKEND_REGISTRY", raising=False)
    clusters = await start_test_service(
        CLUSTERS,
        make_settings("cluster_manager", database_url, stream_prefix, encryption_keys=make_encryption_keys("k1")),
        FAST,
    )
    monkeypatch.setenv("THREEPORT_BACKEND_CLUSTERS", f"127.0.0.1:{clusters.port}")
    addons = await start_test_service(ADDONS, make_settings("addon_manager", database_url, stream_prefix), FAST)
    opened: list[AsyncClient] = []
    cluster_id = f"c-{uuid.uuid4().hex[:6]}"
    info = emulator.add_cluster(cluster_id)
    try:
        clusters_operator = client(clusters.port, OPERATOR, opened)
        kubeconfig = await asyncio.to_thread(Path(info.kubeconfig_path).read_text, encoding="utf-8")
        attached = await clusters_operator.cluster.attach_cluster(cluster_id=cluster_id, kubeconfig=kubeconfig)
        yield Stack(
            addons,
            clusters,
            Kube(info),
            attached.name,
            client(addons.port, OPERATOR, opened),
            client(addons.port, SERVICE, opened),
            opened,
        )
    finally:
        for made in opened:
            await made.close()
        await addons.stop(grace=1.0)
        await clusters.stop(grace=1.0)
        emulator.remove_cluster(cluster_id)
