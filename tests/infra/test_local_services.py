"""``local`` managed services: a ServiceClaim (created as workload-delivery creates it) becomes a
StatefulSet + Service + PVC + Secret in the consumer's cluster and namespace, the claim
publishes the outputs (password and url only as secrets, encrypted in the row), and deleting the
claim of a development service deletes everything it made."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.struct_pb2 import Struct

from tests.infra.conftest import OPERATOR, SERVICE_IDENTITY
from tests.infra.test_accounts import plaintext_rows
from threeport.infra.v1alpha1 import service_claim_pb2
from threeport.sdk import AsyncClient, NotFoundError
from threeport_cluster_manager.service import DEFINITION as CLUSTERS
from threeport_infra_provider.service import DEFINITION as INFRA
from threeport_kubesim.control import ClusterInfo
from threeport_kubesim.testing import EmulatorHandle, run_emulator
from threeport_runtime.db.migrations import upgrade
from threeport_runtime.testing import make_encryption_keys, make_settings, start_test_service, wait_until


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    with run_emulator([], speed=50) as handle:
        yield handle


def kube_get(info: ClusterInfo, path: str) -> Any:
    request = urllib.request.Request(info.server + path, headers={"Authorization": f"Bearer {info.token}"})
    tls = ssl.create_default_context(cadata=base64.b64decode(info.ca_data).decode()) if info.ca_data else None
    try:
        with urllib.request.urlopen(request, timeout=10, context=tls) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise


def create_namespace(info: ClusterInfo, name: str) -> None:
    """As the consuming deployment does before it claims anything (the provider never creates it)."""
    body = json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}).encode()
    request = urllib.request.Request(info.server + "/api/v1/namespaces", data=body, method="POST", headers={
        "Authorization": f"Bearer {info.token}", "Content-Type": "application/json"})
    tls = ssl.create_default_context(cadata=base64.b64decode(info.ca_data).decode()) if info.ca_data else None
    with urllib.request.urlopen(request, timeout=10, context=tls):
        pass


@pytest.fixture
async def stack(
    database_url: str, stream_prefix: str, redis_client: object, emulator: EmulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[AsyncClient, ClusterInfo]]:
    keys = make_encryption_keys("k1")
    for definition in (CLUSTERS, INFRA):
        await asyncio.to_thread(upgrade, definition.migrations_dir, database_url)
    monkeypatch.delenv("THREEPORT_BACKEND_INFRA", raising=False)
    clusters = await start_test_service(CLUSTERS, make_settings("cluster_manager", database_url, stream_prefix,
                                                                encryption_keys=keys))
    monkeypatch.setenv("THREEPORT_BACKEND_CLUSTERS", f"127.0.0.1:{clusters.port}")
    infra = await start_test_service(INFRA, make_settings("infra_provider", database_url, stream_prefix,
                                                          encryption_keys=keys))
    info = emulator.add_cluster(f"dev-{uuid.uuid4().hex[:6]}")
    operator = AsyncClient(f"127.0.0.1:{clusters.port}", metadata=OPERATOR)
    delivery = AsyncClient(f"127.0.0.1:{infra.port}", metadata=SERVICE_IDENTITY)
    try:
        kubeconfig = Path(info.kubeconfig_path).read_text(encoding="utf-8")  # noqa: ASYNC240 - a small local file
        await operator.cluster.attach_cluster(cluster_id="dev", kubeconfig=kubeconfig)
        await operator.wait_ready("clusters/dev", timeout=30)
        yield delivery, info
    finally:
        await operator.close()
        await delivery.close()
        await infra.stop(grace=1.0)
        await clusters.stop(grace=1.0)
        emulator.remove_cluster(info.name)


async def test_postgres_claim_runs_in_the_cluster_and_goes_with_its_claim(
    stack: tuple[AsyncClient, ClusterInfo], database_url: str
) -> None:
    delivery, info = stack
    params = Struct()
    params.update({"storageGb": 2})
    claim = service_claim_pb2.ServiceClaim(spec=service_claim_pb2.ServiceClaimSpec(
        owner="projects/acme/deployments/shop-dev", dependency="db", type="postgres", implementation="local",
        cluster="clusters/dev", namespace="acme-shop-dev", parameters=params))
    created = await delivery.internal.service_claim.create_service_claim(service_claim_id="shop-dev-db",
                                                                         service_claim=claim)

    async def waiting_for_namespace() -> Any:
        found = await delivery.internal.service_claim.get_service_claim(name=created.name)
        if not found.status.managed_service:
            return None
        service = await delivery.managed_service.get_managed_service(name=found.status.managed_service)
        return service if any("waiting for namespace acme-shop-dev" in c.message for c in service.conditions) else None

    # The namespace is the consumer's: the provider waits for it and never makes one of its own.
    await wait_until(waiting_for_namespace, within=60, what="the claim to wait for its namespace")
    assert kube_get(info, "/api/v1/namespaces/acme-shop-dev") is None
    create_namespace(info, "acme-shop-dev")

    async def bound() -> Any:
        found = await delivery.internal.service_claim.get_service_claim(name=created.name)
        return found if found.state == 3 else None

    ready = await wait_until(bound, within=60, what="the claim to be Ready")
    values, secrets = dict(ready.status.outputs.values), dict(ready.status.outputs.secrets)
    name = "tp-" + ready.status.managed_service.removeprefix("managedServices/")
    host = f"{name}.acme-shop-dev.svc.cluster.local"
    assert values == {"host": host, "port": "5432", "database": "app", "username": "app"}
    assert secrets["url"] == f"postgresql://app:{secrets['password']}@{host}:5432/app"
    assert len(secrets["password"]) >= 24

    base = "/apis/apps/v1/namespaces/acme-shop-dev/statefulsets/" + name
    stateful_set = kube_get(info, base)
    assert stateful_set["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "2Gi"
    secret = kube_get(info, f"/api/v1/namespaces/acme-shop-dev/secrets/{name}")
    assert base64.b64decode(secret["data"]["password"]).decode() == secrets["password"]
    assert kube_get(info, f"/api/v1/namespaces/acme-shop-dev/services/{name}") is not None
    # The password is nowhere in plaintext in the provider's database.
    assert plaintext_rows(database_url, secrets["password"]) == []

    await delivery.internal.service_claim.delete_service_claim(name=created.name)

    async def all_gone() -> bool:
        try:
            await delivery.internal.service_claim.get_service_claim(name=created.name)
            return False
        except NotFoundError:
            pass
        secret_path = f"/api/v1/namespaces/acme-shop-dev/secrets/{name}"
        return kube_get(info, base) is None and kube_get(info, secret_path) is None

    await wait_until(all_gone, within=60, what="the claim and its development database to be deleted")
