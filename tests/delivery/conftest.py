"""The delivery test world: one Kubernetes API emulator per session; per test a throwaway
database migrated for the registry, the cluster-manager and workload-delivery, all three
started in-process with the runtime's testing helpers, one emulated cluster attached, and the
project's environments (`dev`: auto-deploys `main`; `prod`: production, requires approval).

Tests call the services directly through the SDK with the service credential and forwarded user
identity (`x-threeport-principal` / `x-threeport-roles`), the way the api-gateway would; the
gateway itself is not in the loop.
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format

from threeport.registry.v1alpha1 import application_pb2, environment_pb2
from threeport.sdk import NO_RETRY, AsyncClient, NotFoundError
from threeport_cluster_manager.service import DEFINITION as CLUSTERS
from threeport_kubesim.control import ClusterInfo
from threeport_kubesim.testing import EmulatorHandle, run_emulator
from threeport_registry.service import DEFINITION as REGISTRY
from threeport_runtime.config import Settings
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
from threeport_workload_delivery.service import DEFINITION as DELIVERY

FAST = ControllerOptions(workers=4, resync_interval=600.0, lease_ttl=3.0, claim_idle_ms=300, claim_interval=0.2,
                         max_deliveries=3)
PROJECT = "acme"
PARENT = f"projects/{PROJECT}"
WITHIN = 45.0


def identity(principal: str, roles: str) -> list[tuple[str, str]]:
    return [("authorization", f"Service {TEST_CREDENTIAL}"), ("x-threeport-principal", principal),
            ("x-threeport-roles", roles)]


ADMIN = identity("principals/alice", f"admin@{PARENT}")
DEPLOYER = identity("principals/ci", f"deployer@{PARENT}")
OPERATOR = identity("principals/ops", "operator")
SERVICE = [("authorization", f"Service {TEST_CREDENTIAL}"), ("x-threeport-service", "tests")]


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorHandle]:
    with run_emulator([], speed=50) as handle:
        yield handle


class Kube:
    """Reads and writes one emulated cluster over its REST API (what a person with kubectl does)."""

    def __init__(self, info: ClusterInfo):
        self.info = info
        # Emulated clusters serve HTTPS with their own CA (as kubectl needs).
        ca = base64.b64decode(info.ca_data).decode() if info.ca_data else None
        self.tls = ssl.create_default_context(cadata=ca) if ca else None

    def _request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.info.token}"}
        if body is not None:
            headers["Content-Type"] = "application/merge-patch+json"
        request = urllib.request.Request(self.info.server + path, method=method, headers=headers,
                                         data=None if body is None else json.dumps(body).encode())
        try:
            with urllib.request.urlopen(request, timeout=10, context=self.tls) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, None

    def get(self, path: str) -> Any:
        status, body = self._request("GET", path)
        return body if status == 200 else None

    def delete(self, path: str) -> int:
        return self._request("DELETE", path)[0]

    def patch(self, path: str, body: Any) -> Any:
        """A JSON merge patch (what `kubectl patch --type merge` sends); the object after it."""
        status, answer = self._request("PATCH", path, body)
        assert status == 200, f"PATCH {path}: {status}"
        return answer

    def items(self, path: str, selector: str = "") -> list[Any]:
        query = f"?labelSelector={urllib.request.quote(selector)}" if selector else ""
        body = self.get(path + query)
        return list(body["items"]) if body else []

    def deployment(self, namespace: str, name: str) -> Any:
        return self.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")

    def image(self, namespace: str, name: str) -> str | None:
        found = self.deployment(namespace, name)
        return None if found is None else str(found["spec"]["template"]["spec"]["containers"][0]["image"])

    def owned(self, deployment_id: str) -> list[str]:
        """Every object labelled for the deployment, cluster-wide."""
        selector = f"threeport.io/deployment={deployment_id}"
        found = []
        for path in ("/apis/apps/v1/deployments", "/apis/apps/v1/statefulsets", "/api/v1/services",
                     "/api/v1/configmaps", "/api/v1/secrets", "/api/v1/serviceaccounts", "/api/v1/namespaces"):
            found += [f"{i['kind'] if 'kind' in i else path.rsplit('/', 1)[1]}/{i['metadata']['name']}"
                      for i in self.items(path, selector)]
        return found


@dataclass
class Stack:
    delivery: RunningService
    registry: RunningService
    clusters: RunningService
    kube: Kube
    cluster: str
    settings: Settings
    admin: AsyncClient  # delivery as a project admin
    deployer: AsyncClient  # delivery as a CI token (deployer)
    registry_admin: AsyncClient
    registry_deployer: AsyncClient
    clusters_operator: AsyncClient
    clusters_service: AsyncClient
    opened: list[AsyncClient] = field(default_factory=list)

    async def apply_application(self, app_id: str, spec: dict[str, Any]) -> application_pb2.Application:
        message = json_format.ParseDict({"spec": spec}, application_pb2.Application())
        name = f"{PARENT}/applications/{app_id}"
        try:
            live = await self.registry_admin.application.get_application(name=name)
        except Exception:
            return await self.registry_admin.application.create_application(
                parent=PARENT, application_id=app_id, application=message)
        message.name = name
        message.etag = live.etag
        return await self.registry_admin.application.update_application(application=message)

    async def deployment_when(self, name: str, check: Any, what: str, within: float = WITHIN) -> Any:
        last: list[Any] = []

        async def probe() -> Any:
            found = await self.admin.deployment.get_deployment(name=name)
            last[:] = [found]
            return found if check(found) else None

        try:
            return await wait_until(probe, within=within, interval=0.1, what=what)
        except AssertionError as timeout:
            # Say where it got stuck: that is what a failure report needs.
            seen = last[0] if last else None
            detail = "never read" if seen is None else (
                f"release {seen.status.current_release} (pending {seen.status.pending_release}), "
                f"rollout {seen.status.rollout}, conditions "
                + "; ".join(f"{c.type}={c.status} {c.reason}: {c.message}" for c in seen.conditions))
            raise AssertionError(f"{timeout}; last seen: {detail}") from None

    async def ready(self, name: str, within: float = WITHIN) -> Any:
        return await self.deployment_when(name, is_ready, f"{name} to be Ready", within)

    async def gone(self, name: str, what: str = "the deployment to be gone") -> None:
        async def absent() -> bool:
            try:
                await self.admin.deployment.get_deployment(name=name)
            except NotFoundError:
                return True
            return False

        await wait_until(absent, within=WITHIN, interval=0.1, what=what)

    async def releases(self, name: str) -> list[Any]:
        page = await self.admin.release.list_releases_page(parent=name, page_size=100)
        return list(page.releases)

    async def events(self, name: str) -> list[Any]:
        page = await self.admin.delivery_event.list_events_page(parent=name, page_size=200)
        return list(page.events)


def condition(resource: Any, kind: str) -> Any:
    return next((c for c in resource.conditions if c.type == kind), None)


def is_ready(resource: Any) -> bool:
    ready = condition(resource, "Ready")
    return ready is not None and ready.status == 1 and ready.observed_generation == resource.generation


ENVIRONMENTS = {
    "dev": {"type": "ENVIRONMENT_TYPE_DEVELOPMENT", "autoDeploy": [{"branch": "main"}]},
    "prod": {"type": "ENVIRONMENT_TYPE_PRODUCTION", "requireApproval": True, "autoDeploy": [{"tag": "v*"}]},
}


def client(port: int, metadata: list[tuple[str, str]], opened: list[AsyncClient]) -> AsyncClient:
    made = AsyncClient(f"127.0.0.1:{port}", metadata=metadata, retry=NO_RETRY)
    opened.append(made)
    return made


def delivery_env(monkeypatch: pytest.MonkeyPatch, registry_port: int, clusters_port: int) -> dict[str, str]:
    env = {
        "THREEPORT_BACKEND_REGISTRY": f"127.0.0.1:{registry_port}",
        "THREEPORT_BACKEND_CLUSTERS": f"127.0.0.1:{clusters_port}",
        "THREEPORT_DELIVERY_POLL_SECONDS": "0.1",
        "THREEPORT_DELIVERY_DRIFT_SECONDS": "1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("THREEPORT_BACKEND_ADDONS", raising=False)
    monkeypatch.delenv("THREEPORT_BACKEND_INFRA", raising=False)
    return env


@pytest.fixture
async def world(
    database_url: str,  # noqa: F811
    stream_prefix: str,  # noqa: F811
    redis_client: object,  # noqa: F811
    emulator: EmulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[RunningService, RunningService, Kube, str, Settings, list[AsyncClient]]]:
    """Registry and cluster-manager running, a Ready cluster attached, environments created."""
    for definition in (REGISTRY, CLUSTERS, DELIVERY):
        await asyncio.to_thread(upgrade, definition.migrations_dir, database_url)
    monkeypatch.setenv("THREEPORT_KUBESIM_URL", emulator.control_url)
    monkeypatch.setenv("THREEPORT_CLUSTER_PROBE_INTERVAL_SECONDS", "0.5")
    monkeypatch.delenv("THREEPORT_BACKEND_INFRA", raising=False)
    registry = await start_test_service(REGISTRY, make_settings("registry", database_url, stream_prefix), FAST)
    clusters = await start_test_service(
        CLUSTERS,
        make_settings("cluster_manager", database_url, stream_prefix, encryption_keys=make_encryption_keys("k1")),
        FAST,
    )
    opened: list[AsyncClient] = []
    cluster_id = f"c-{uuid.uuid4().hex[:6]}"
    info = emulator.add_cluster(cluster_id)
    try:
        operator = client(clusters.port, OPERATOR, opened)
        kubeconfig = await asyncio.to_thread(Path(info.kubeconfig_path).read_text, encoding="utf-8")
        attached = await operator.cluster.attach_cluster(cluster_id=cluster_id, kubeconfig=kubeconfig)

        async def cluster_ready() -> bool:
            found = await operator.cluster.get_cluster(name=attached.name)
            return is_ready(found) or (condition(found, "Ready") is not None and condition(found, "Ready").status == 1)

        await wait_until(cluster_ready, within=WITHIN, interval=0.1, what="the cluster to be Ready")
        registry_admin = client(registry.port, ADMIN, opened)
        for env_id, spec in ENVIRONMENTS.items():
            await registry_admin.environment.create_environment(
                parent=PARENT, environment_id=env_id,
                environment=json_format.ParseDict({"spec": spec}, environment_pb2.Environment()))
        settings = make_settings("workload_delivery", database_url, stream_prefix)
        yield registry, clusters, Kube(info), attached.name, settings, opened
    finally:
        for made in opened:
            await made.close()
        await clusters.stop(grace=1.0)
        await registry.stop(grace=1.0)
        emulator.control.clear_faults(cluster_id)
        emulator.remove_cluster(cluster_id)


World = tuple[RunningService, RunningService, Kube, str, Settings, list[AsyncClient]]


@asynccontextmanager
async def running_stack(world: World) -> AsyncIterator[Stack]:
    """Delivery started on the world (with the settings the environment holds now), stopped after."""
    registry, clusters, kube, cluster, settings, opened = world
    made = Stack(
        delivery=await start_test_service(DELIVERY, settings, FAST), registry=registry, clusters=clusters,
        kube=kube, cluster=cluster, settings=settings, admin=None, deployer=None,  # type: ignore[arg-type]
        registry_admin=client(registry.port, ADMIN, opened), registry_deployer=client(registry.port, DEPLOYER, opened),
        clusters_operator=client(clusters.port, OPERATOR, opened),
        clusters_service=client(clusters.port, SERVICE, opened), opened=opened,
    )
    made.admin = client(made.delivery.port, ADMIN, opened)
    made.deployer = client(made.delivery.port, DEPLOYER, opened)
    try:
        yield made
    finally:
        await made.delivery.stop(grace=1.0)  # the one running now (a test may have restarted it)


@pytest.fixture
async def stack(world: World, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Stack]:
    registry, clusters = world[0], world[1]
    delivery_env(monkeypatch, registry.port, clusters.port)
    async with running_stack(world) as made:
        yield made
