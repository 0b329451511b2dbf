"""AttachCluster: a good kubeconfig becomes Ready and onboarded; bad ones are refused with a
clear error and nothing stored; credentials are encrypted at rest and never returned by Get/List."""

from __future__ import annotations

import logging

import psycopg
import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import config as kube_config

from threeport.clusters.v1alpha1 import cluster_pb2
from threeport.sdk import FailedPreconditionError, InvalidArgumentError, PermissionDeniedError
from threeport_runtime.db.engine import libpq_url
from threeport_runtime.testing import free_port, wait_until

from .conftest import ClusterManager, Kube
from .helpers import cluster_when, is_true


def core_api(kubeconfig_path: str) -> k8s.CoreV1Api:
    configuration = k8s.Configuration()
    kube_config.load_kube_config(config_file=kubeconfig_path, client_configuration=configuration)
    return k8s.CoreV1Api(k8s.ApiClient(configuration))


def credential_rows(database_url: str) -> list[tuple[str, str, str]]:
    with psycopg.connect(libpq_url(database_url)) as connection:
        rows = connection.execute("SELECT cluster, server, secret FROM clusters.cluster_credentials").fetchall()
    return [(str(a), str(b), str(c)) for a, b, c in rows]


def cluster_rows(database_url: str) -> int:
    with psycopg.connect(libpq_url(database_url)) as connection:
        row = connection.execute("SELECT count(*) FROM clusters.clusters").fetchone()
    assert row is not None
    return int(row[0])


async def test_attach_becomes_ready_onboarded_and_repaired(manager: ClusterManager, kube: Kube) -> None:
    info = kube.cluster("attach", nodes=2)
    attached = await manager.client.cluster.attach_cluster(
        cluster_id="prod-use1",
        kubeconfig=kube.kubeconfig(info),
        location="NorthAmerica:NewYork",
        labels={"tier": "gold"},
    )
    assert attached.name == "clusters/prod-use1"
    assert attached.spec.provider == "attached"
    ready = await manager.client.wait_ready(attached.name, timeout=30, poll_interval=0.1)
    assert isinstance(ready, cluster_pb2.Cluster)
    assert is_true(ready, "Reachable") and is_true(ready, "Onboarded")
    assert ready.status.region == "us-east-1"
    assert ready.status.endpoint == info.server
    assert ready.status.kubernetes_version.startswith("1.")
    assert ready.status.node_count == 2 and ready.status.ready_node_count == 2
    assert ready.status.allocatable_cpu_millis > 0 and ready.status.allocatable_memory_bytes > 0
    assert ready.status.HasField("last_probe_time")

    core = core_api(info.kubeconfig_path)
    namespace = core.read_namespace("threeport-system")
    assert namespace.metadata.labels["app.kubernetes.io/managed-by"] == "threeport"
    account = core.read_namespaced_service_account("threeport-controller", "threeport-system")
    assert any(entry.manager == "threeport" for entry in account.metadata.managed_fields)
    core.delete_namespaced_service_account("threeport-controller", "threeport-system")

    def repaired() -> bool:
        try:
            core.read_namespaced_service_account("threeport-controller", "threeport-system")
        except k8s.ApiException:
            return False
        return True

    async def probe() -> bool:
        return repaired()

    await wait_until(probe, within=30, interval=0.1, what="the onboarding service account to be re-applied")


def _with_token(kubeconfig: str, token: str) -> str:
    document = yaml.safe_load(kubeconfig)
    document["users"][0]["user"]["token"] = token
    return yaml.safe_dump(document)


def _with_server(kubeconfig: str, server: str) -> str:
    document = yaml.safe_load(kubeconfig)
    document["clusters"][0]["cluster"]["server"] = server
    return yaml.safe_dump(document)


def _with_exec(kubeconfig: str) -> str:
    document = yaml.safe_load(kubeconfig)
    document["users"][0]["user"] = {"exec": {"command": "aws", "args": ["eks", "get-token"]}}
    return yaml.safe_dump(document)


async def test_bad_kubeconfigs_are_refused_and_nothing_is_stored(manager: ClusterManager, kube: Kube) -> None:
    info = kube.cluster("bad")
    good = kube.kubeconfig(info)
    attach = manager.client.cluster.attach_cluster

    with pytest.raises(InvalidArgumentError) as wrong_token:
        await attach(cluster_id="wrong-token", kubeconfig=_with_token(good, "not-the-token"))
    assert "401" in wrong_token.value.message and "credentials" in wrong_token.value.message
    assert [v.field for v in wrong_token.value.field_violations] == ["kubeconfig"]

    with pytest.raises(FailedPreconditionError) as unreachable:
        await attach(cluster_id="unreachable", kubeconfig=_with_server(good, f"http://127.0.0.1:{free_port()}"))
    assert "cannot reach" in unreachable.value.message

    with pytest.raises(InvalidArgumentError) as malformed:
        await attach(cluster_id="malformed", kubeconfig="clusters: [unclosed")
    assert "not valid YAML" in malformed.value.message

    with pytest.raises(InvalidArgumentError) as plugin:
        await attach(cluster_id="plugin", kubeconfig=_with_exec(good))
    assert "exec plugin" in plugin.value.message

    with pytest.raises(InvalidArgumentError) as bad_context:
        await attach(cluster_id="context", kubeconfig=good, context="nope")
    assert "no context named 'nope'" in bad_context.value.message

    with pytest.raises(InvalidArgumentError) as bad_location:
        await attach(cluster_id="location", kubeconfig=good, location="Mars:Olympus")
    assert "unknown location" in bad_location.value.message

    validated = await attach(cluster_id="dry-run", kubeconfig=good, validate_only=True)
    assert validated.spec.provider == "attached"

    assert cluster_rows(manager.database_url) == 0
    assert credential_rows(manager.database_url) == []
    listed = [c async for c in manager.client.cluster.list_clusters()]
    assert listed == []


async def test_credentials_are_encrypted_and_only_internal(
    manager: ClusterManager, kube: Kube, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    info = kube.cluster("secret")
    attached = await manager.client.cluster.attach_cluster(cluster_id="secret", kubeconfig=kube.kubeconfig(info))
    await cluster_when(manager.client, attached.name, lambda c: is_true(c, "Ready"), "the cluster to be Ready")

    rows = credential_rows(manager.database_url)
    assert [(name, server) for name, server, _ in rows] == [(attached.name, info.server)]
    secret = rows[0][2]
    assert secret.startswith("enc:v1:k1:") and info.token not in secret

    fetched = await manager.client.cluster.get_cluster(name=attached.name)
    listed = [c async for c in manager.client.cluster.list_clusters()]
    for message in (fetched, *listed):
        assert info.token.encode() not in message.SerializeToString()
    assert info.token not in caplog.text

    credentials = await manager.internal.internal.cluster_credentials.get_cluster_credentials(name=attached.name)
    assert credentials.server == info.server and credentials.token == info.token
    with pytest.raises(PermissionDeniedError):
        await manager.client.internal.cluster_credentials.get_cluster_credentials(name=attached.name)
