"""The runtime's Kubernetes layer against the emulator: apply, get, list by label, delete,
readiness, discovery of custom kinds, the error taxonomy and the client pool."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from threeport_kubesim.control import ClusterInfo
from threeport_kubesim.testing import EmulatorHandle
from threeport_runtime.kube.client import FIELD_MANAGER, KubeClient
from threeport_runtime.kube.connection import Connection
from threeport_runtime.kube.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    NotReady,
    TLSFailure,
    Unauthorized,
    Unreachable,
)
from threeport_runtime.kube.pool import KubePool


def connection_to(info: ClusterInfo, **changes: Any) -> Connection:
    fields: dict[str, Any] = {
        "server": info.server,
        "token": info.token,
        "certificate_authority_data": base64.b64decode(info.ca_data) if info.ca_data else b"",
    }
    fields.update(changes)
    return Connection(**fields)


@pytest.fixture
async def client(cluster: ClusterInfo) -> AsyncIterator[KubeClient]:
    kube = KubeClient(connection_to(cluster), call_timeout=5.0)
    yield kube
    await kube.close()


def config_map(name: str, namespace: str = "default", **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "data": {"greeting": "hello"},
    }


def deployment(name: str, image: str = "nginx:1.27") -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": image}]}},
        },
    }


async def test_apply_is_server_side_with_the_threeport_field_manager(client: KubeClient) -> None:
    applied = await client.apply(config_map("settings", team="a"))
    managers = {entry["manager"] for entry in applied["metadata"]["managedFields"]}
    assert managers == {FIELD_MANAGER}
    again = await client.apply(config_map("settings", team="a"))
    assert again["metadata"]["resourceVersion"] == applied["metadata"]["resourceVersion"]
    assert (await client.read(config_map("settings")))["data"] == {"greeting": "hello"}


async def test_list_by_label_across_namespaces_and_delete(client: KubeClient) -> None:
    await client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}})
    await client.apply(config_map("one", team="a"))
    await client.apply(config_map("two", "other", team="a"))
    await client.apply(config_map("three", team="b"))
    found = await client.list("v1", "ConfigMap", "team=a")
    assert sorted(item["metadata"]["name"] for item in found) == ["one", "two"]
    assert {item["kind"] for item in found} == {"ConfigMap"}
    only_other = await client.list("v1", "ConfigMap", "team=a", namespace="other")
    assert [item["metadata"]["name"] for item in only_other] == ["two"]

    assert await client.delete(config_map("one")) is True
    assert await client.delete(config_map("one")) is False
    assert await client.get(config_map("one")) is None
    with pytest.raises(NotFound, match="ConfigMap default/one"):
        await client.read(config_map("one"))


async def test_discovery_finds_a_custom_kind_once_its_crd_exists(client: KubeClient) -> None:
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w1", "namespace": "default", "labels": {"team": "a"}},
        "spec": {"size": 3},
    }
    with pytest.raises(NotFound, match=r"example\.com/v1"):
        await client.apply(widget)
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
            ],
        },
    }
    await client.apply(crd)
    await client.wait_ready(crd, within=30)
    await client.apply(widget)
    resource = await client.resource("example.com/v1", "Widget")
    assert (resource.plural, resource.namespaced) == ("widgets", True)
    assert [w["metadata"]["name"] for w in await client.list("example.com/v1", "Widget", "team=a")] == ["w1"]
    with pytest.raises(NotFound, match="Gadget"):
        await client.resource("example.com/v1", "Gadget")


async def test_wait_ready_follows_a_deployment_until_it_is_available(client: KubeClient) -> None:
    await client.apply(deployment("web"))
    ready = await client.wait_ready(deployment("web"), within=60)
    assert ready["status"]["availableReplicas"] == 2


async def test_wait_ready_says_what_it_still_waits_for(
    client: KubeClient, cluster: ClusterInfo, emulator: EmulatorHandle
) -> None:
    emulator.control.image_pull_fail(cluster.name, "broken/*")
    await client.apply(deployment("stuck", image="broken/app:1"))
    with pytest.raises(NotReady, match=r"Deployment default/stuck .* replicas"):
        await client.wait_ready(deployment("stuck"), within=1.5)


async def test_unreachable_server_marks_the_client_stale(
    client: KubeClient, cluster: ClusterInfo, emulator: EmulatorHandle
) -> None:
    await client.version()
    emulator.control.set_unreachable(cluster.name)
    try:
        with pytest.raises(Unreachable, match="cannot reach"):
            await client.list("v1", "ConfigMap")
        assert client.stale
    finally:
        emulator.control.set_unreachable(cluster.name, enabled=False)


async def test_unauthorized_and_forbidden(cluster: ClusterInfo, emulator: EmulatorHandle, client: KubeClient) -> None:
    wrong = KubeClient(connection_to(cluster, token="not-the-token"))
    try:
        with pytest.raises(Unauthorized, match="401"):
            await wrong.list("v1", "ConfigMap")
        assert wrong.stale
    finally:
        await wrong.close()
    emulator.control.fail_requests(cluster.name, 403, verb="list", resource="secrets", message="no secrets for you")
    with pytest.raises(Forbidden, match="no secrets for you") as raised:
        await client.list("v1", "Secret")
    assert not isinstance(raised.value, Unauthorized)
    assert not client.stale


async def test_wrong_certificate_authority_is_a_tls_failure(cluster: ClusterInfo, emulator: EmulatorHandle) -> None:
    other = emulator.add_cluster(f"ca-{uuid.uuid4().hex[:6]}")
    try:
        assert other.ca_data is not None
        mismatched = KubeClient(connection_to(cluster, certificate_authority_data=base64.b64decode(other.ca_data)))
        try:
            with pytest.raises(TLSFailure, match="certificate authority"):
                await mismatched.version()
        finally:
            await mismatched.close()
    finally:
        emulator.remove_cluster(other.name)
    with pytest.raises(TLSFailure, match="cannot be loaded"):
        KubeClient(connection_to(cluster, certificate_authority_data=b"not a certificate"))


async def test_conflict_and_invalid(client: KubeClient) -> None:
    created = await client.apply(config_map("versioned"))
    stale = {**config_map("versioned"), "metadata": {**created["metadata"], "resourceVersion": "1"}}
    path = (await client.resource("v1", "ConfigMap")).object_path("versioned", "default")
    with pytest.raises(Conflict, match="409"):
        await client.request("PUT", path, what="replacing ConfigMap default/versioned", body=stale)
    with pytest.raises(Invalid, match="Not_A_DNS_Name"):
        await client.apply(config_map("Not_A_DNS_Name"))


async def test_pool_shares_one_client_and_rebuilds_it_when_credentials_change(cluster: ClusterInfo) -> None:
    current = {"connection": connection_to(cluster, token="stale-token")}
    reads = []

    async def source(name: str) -> Connection:
        reads.append(name)
        return current["connection"]

    pool = KubePool(source, ttl=3600)
    try:
        first = await pool.client("c1")
        assert await pool.client("c1") is first
        assert reads == ["c1"]
        with pytest.raises(Unauthorized):
            await first.list("v1", "ConfigMap")
        current["connection"] = connection_to(cluster)  # The token was rotated.
        second = await pool.client("c1")
        assert second is not first and reads == ["c1", "c1"]
        assert await second.list("v1", "ConfigMap", "none=here") == []
        # A caller handing in the same credentials keeps the client; changed ones replace it.
        assert await pool.client("c1", connection_to(cluster)) is second
        third = await pool.client("c1", connection_to(cluster, insecure_skip_tls_verify=True))
        assert third is not second
    finally:
        await pool.close()


async def test_a_pool_without_a_source_keeps_the_client_last_handed_in(cluster: ClusterInfo) -> None:
    # The cluster-manager's pool has no source: its probe hands the credentials in, and the
    # caches it starts ask the pool for the client in between, however long that is.
    pool = KubePool(ttl=0.0)
    try:
        with pytest.raises(ValueError, match="no connection given"):
            await pool.client("c1")
        handed = await pool.client("c1", connection_to(cluster))
        assert await pool.client("c1") is handed
    finally:
        await pool.close()
