"""CreateCluster per provider: `sim` provisions in the emulator and tears down through its
driver; `eks` and `kind` fail with FAILED_PRECONDITION saying what is missing, storing nothing."""

from __future__ import annotations

import shutil

import pytest

from threeport.clusters.v1alpha1 import cluster_pb2
from threeport.sdk import FailedPreconditionError, InvalidArgumentError

from .conftest import ClusterManager, Kube
from .helpers import cluster_when, gone, is_true


def spec(provider: str, location: str = "") -> cluster_pb2.Cluster:
    return cluster_pb2.Cluster(spec=cluster_pb2.ClusterSpec(provider=provider, location=location))


async def test_sim_cluster_is_provisioned_and_deleted(manager: ClusterManager, kube: Kube) -> None:
    created = await manager.client.cluster.create_cluster(cluster_id="sim-one", cluster=spec("sim", "Europe:Paris"))
    assert created.reconciling
    ready = await cluster_when(manager.client, created.name, lambda c: is_true(c, "Ready"), "the sim cluster")
    assert is_true(ready, "Provisioned") and ready.status.region == "eu-west-3"
    emulated = ready.status.infrastructure.removeprefix("sim/")
    info = kube.handle.control.get_cluster(emulated)
    assert ready.status.endpoint == info.server
    kube.created.append(emulated)  # Removed by the fixture should the test fail half-way.

    await manager.client.cluster.delete_cluster(name=created.name)
    await gone(lambda: manager.client.cluster.get_cluster(name=created.name), "the sim cluster to be deleted")
    assert emulated not in {c.name for c in kube.handle.control.list_clusters()}


async def test_unavailable_providers_fail_cleanly(manager: ClusterManager) -> None:
    with pytest.raises(FailedPreconditionError) as eks:
        await manager.client.cluster.create_cluster(cluster_id="eks-one", cluster=spec("eks", "Europe:Frankfurt"))
    assert "THREEPORT_BACKEND_INFRA" in eks.value.message and "infra-provider" in eks.value.message
    if shutil.which("kind") is None:
        with pytest.raises(FailedPreconditionError) as kind:
            await manager.client.cluster.create_cluster(cluster_id="kind-one", cluster=spec("kind"))
        assert "missing the `kind` binary" in kind.value.message
    with pytest.raises(InvalidArgumentError) as attached:
        await manager.client.cluster.create_cluster(cluster_id="att", cluster=spec("attached"))
    assert "AttachCluster" in attached.value.message
    with pytest.raises(InvalidArgumentError):
        await manager.client.cluster.create_cluster(cluster_id="Bad_Id", cluster=spec("sim"))
    assert [c async for c in manager.client.cluster.list_clusters()] == []


async def test_a_sim_cluster_the_emulator_lost_is_provisioned_again(manager: ClusterManager, kube: Kube) -> None:
    """Issue 17 item 9: an emulator restarted without its state no longer has the cluster; the
    cluster-manager provisions it again instead of reporting it Unreachable for ever."""
    created = await manager.client.cluster.create_cluster(cluster_id="sim-lost", cluster=spec("sim", "Europe:Paris"))
    ready = await cluster_when(manager.client, created.name, lambda c: is_true(c, "Ready"), "the sim cluster")
    emulated = ready.status.infrastructure.removeprefix("sim/")
    kube.created.append(emulated)
    lost = kube.handle.control.get_cluster(emulated)
    kube.handle.control.delete_cluster(emulated)

    def rebuilt(cluster: cluster_pb2.Cluster) -> bool:
        return is_true(cluster, "Ready") and cluster.status.endpoint not in ("", lost.server)

    again = await cluster_when(manager.client, created.name, rebuilt, "the lost sim cluster to be rebuilt")
    assert again.status.endpoint == kube.handle.control.get_cluster(emulated).server
    await manager.client.cluster.delete_cluster(name=created.name)
    await gone(lambda: manager.client.cluster.get_cluster(name=created.name), "the sim cluster to be deleted")
