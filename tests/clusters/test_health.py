"""Health probes: an emulated outage flips Reachable to False with an Event, recovery flips it
back; an unreachable cluster takes no new placements; a tenant's malformed object is not an
outage."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from threeport.clusters.v1alpha1 import cluster_claim_pb2
from threeport.common.v1alpha1 import event_pb2
from threeport_kubesim.control import ClusterInfo

from .conftest import ClusterManager, Kube
from .helpers import claim_when, cluster_when, condition, is_false, is_true


async def reasons(manager: ClusterManager, name: str) -> list[tuple[int, str]]:
    return [(event.type, event.reason) async for event in manager.client.clusters_event.list_events(parent=name)]


async def test_outage_flips_reachable_with_events_and_recovers(manager: ClusterManager, kube: Kube) -> None:
    info = kube.cluster("flaky")
    attached = await manager.client.cluster.attach_cluster(cluster_id="flaky", kubeconfig=kube.kubeconfig(info))
    await cluster_when(manager.client, attached.name, lambda c: is_true(c, "Ready"), "the cluster to be Ready")
    claim = await manager.internal.internal.cluster_claim.create_cluster_claim(
        cluster_claim_id="bound",
        cluster_claim=cluster_claim_pb2.ClusterClaim(
            spec=cluster_claim_pb2.ClusterClaimSpec(owner="projects/acme/deployments/a", cluster=attached.name)
        ),
    )
    await claim_when(manager.internal, claim.name, lambda c: is_true(c, "Ready"), "the claim to be bound")

    kube.handle.control.set_unreachable(info.name, True)
    down = await cluster_when(
        manager.client, attached.name, lambda c: is_false(c, "Reachable"), "Reachable to turn False"
    )
    reachable = condition(down, "Reachable")
    assert reachable is not None and reachable.reason == "Unreachable" and "cannot reach" in reachable.message
    assert is_false(down, "Ready")
    assert (event_pb2.EVENT_TYPE_WARNING, "ClusterUnreachable") in await reasons(manager, attached.name)
    bound = await claim_when(
        manager.internal, claim.name, lambda c: is_false(c, "Ready"), "the bound claim to report the outage"
    )
    assert condition(bound, "Ready").reason == "ClusterUnreachable"  # type: ignore[union-attr]

    # No new placement lands on an unreachable cluster, even when asked for explicitly.
    other = await manager.internal.internal.cluster_claim.create_cluster_claim(
        cluster_claim_id="during-outage",
        cluster_claim=cluster_claim_pb2.ClusterClaim(
            spec=cluster_claim_pb2.ClusterClaimSpec(owner="projects/acme/deployments/b", cluster=attached.name)
        ),
    )
    pending = await claim_when(
        manager.internal, other.name, lambda c: bool(c.status.placement_reason), "the claim to explain itself"
    )
    assert pending.status.cluster == "" and "unreachable" in pending.status.placement_reason

    kube.handle.control.set_unreachable(info.name, False)
    await cluster_when(manager.client, attached.name, lambda c: is_true(c, "Ready"), "the cluster to recover")
    assert (event_pb2.EVENT_TYPE_NORMAL, "ClusterRecovered") in await reasons(manager, attached.name)
    await claim_when(manager.internal, claim.name, lambda c: is_true(c, "Ready"), "the claim to be Ready again")
    await claim_when(
        manager.internal, other.name, lambda c: c.status.cluster == attached.name, "the late claim to bind"
    )


def create_pod(info: ClusterInfo, pod: dict[str, Any]) -> None:
    """Creates a pod over plain HTTP, as any tenant's tool would (no client models involved)."""
    request = urllib.request.Request(
        f"{info.server}/api/v1/namespaces/default/pods",
        data=json.dumps(pod).encode(),
        headers={"Authorization": f"Bearer {info.token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201


async def test_a_malformed_tenant_pod_does_not_make_the_cluster_unreachable(
    manager: ClusterManager, kube: Kube
) -> None:
    info = kube.cluster("tenant")
    attached = await manager.client.cluster.attach_cluster(cluster_id="tenant", kubeconfig=kube.kubeconfig(info))
    await cluster_when(manager.client, attached.name, lambda c: is_true(c, "Ready"), "the cluster to be Ready")
    # What a removed readiness probe used to leave behind (issue 17): a probe with an empty
    # httpGet, which the official client's models refuse to deserialize.
    create_pod(
        info,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "odd", "namespace": "default"},
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "image": "nginx:1.27",
                        "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}},
                        "readinessProbe": {"httpGet": {}},
                    }
                ]
            },
        },
    )
    counted = await cluster_when(
        manager.client,
        attached.name,
        lambda c: c.status.requested_cpu_millis == 250,
        "a probe to count the odd pod's requests",
    )
    assert is_true(counted, "Reachable") and is_true(counted, "Ready")
    assert counted.status.requested_memory_bytes == 64 * 2**20
