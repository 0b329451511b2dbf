"""Health probes: an emulated outage flips Reachable to False with an Event, recovery flips it
back; an unreachable cluster takes no new placements; a tenant's malformed object is not an
outage."""

from __future__ import annotations

import base64
import json
import ssl
import urllib.request
from typing import Any

import pytest

from threeport.clusters.v1alpha1 import cluster_claim_pb2
from threeport.common.v1alpha1 import event_pb2
from threeport_kubesim.control import ClusterInfo
from threeport_runtime.prometheus import READER
from threeport_runtime.testing import wait_until

from .conftest import FAST_ENV, ClusterManager, Kube
from .helpers import WITHIN, claim_when, cluster_when, condition, is_false, is_true


async def reasons(manager: ClusterManager, name: str) -> list[tuple[int, str]]:
    return [(event.type, event.reason) async for event in manager.client.clusters_event.list_events(parent=name)]


async def recorded(manager: ClusterManager, name: str, wanted: tuple[int, str]) -> None:
    """Waits for the Event ``wanted``: a pass records it right after the status write it reports,
    so a reader that saw the status may list the events a moment before it is there."""

    async def there() -> bool:
        return wanted in await reasons(manager, name)

    await wait_until(there, within=WITHIN, interval=0.1, what=f"the {wanted[1]} event")


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
    await recorded(manager, attached.name, (event_pb2.EVENT_TYPE_WARNING, "ClusterUnreachable"))
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
    await recorded(manager, attached.name, (event_pb2.EVENT_TYPE_NORMAL, "ClusterRecovered"))
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
    tls = ssl.create_default_context(cadata=base64.b64decode(info.ca_data).decode()) if info.ca_data else None
    with urllib.request.urlopen(request, timeout=10, context=tls) as response:
        assert response.status == 201


async def test_a_malformed_tenant_pod_does_not_make_the_cluster_unreachable(
    manager: ClusterManager, kube: Kube
) -> None:
    info = kube.cluster("tenant")
    attached = await manager.client.cluster.attach_cluster(cluster_id="tenant", kubeconfig=kube.kubeconfig(info))
    await cluster_when(manager.client, attached.name, lambda c: is_true(c, "Ready"), "the cluster to be Ready")
    # A tenant's pod whose probe names a port no container has: the API server stores it (the
    # emulator, like kube-apiserver, now refuses the `httpGet: {}` that issue 17 found, which the
    # official client's models could not read). The probe reads only requests, as raw JSON, so
    # nothing in a tenant's pod can make the whole cluster Unreachable.
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
                        "readinessProbe": {"httpGet": {"port": "no-such-port"}},
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


async def test_probes_are_heartbeats_and_do_not_reconcile_bound_claims(
    manager: ClusterManager, kube: Kube
) -> None:
    info = kube.cluster("steady")
    attached = await manager.client.cluster.attach_cluster(cluster_id="steady", kubeconfig=kube.kubeconfig(info))
    await cluster_when(manager.client, attached.name, lambda c: is_true(c, "Ready"), "the cluster to be Ready")
    claims = []
    for index in range(5):
        claim = await manager.internal.internal.cluster_claim.create_cluster_claim(
            cluster_claim_id=f"steady-{index}",
            cluster_claim=cluster_claim_pb2.ClusterClaim(
                spec=cluster_claim_pb2.ClusterClaimSpec(
                    owner=f"projects/acme/deployments/{index}", cluster=attached.name
                )
            ),
        )
        claims.append(claim.name)
    for name in claims:
        await claim_when(manager.internal, name, lambda c: is_true(c, "Ready"), f"{name} to be bound")
    await cluster_when(manager.client, attached.name, lambda c: len(c.status.claims) == 5, "the cluster to list them")

    # Claim reconciles of every outcome, by the controller's own counter (a reconcile of a key
    # the replica owns draws no fencing token any more, so the fence counter does not count them).
    before = claim_reconciles()
    probed = (await manager.client.cluster.get_cluster(name=attached.name)).status.last_probe_time.ToNanoseconds()
    for _ in range(5):
        seen = await cluster_when(
            manager.client,
            attached.name,
            lambda c, after=probed: c.status.last_probe_time.ToNanoseconds() > after,
            "the next probe",
        )
        probed = seen.status.last_probe_time.ToNanoseconds()
    reconciles = claim_reconciles() - before
    # Five probes used to re-queue all five bound claims each time (25 reconciles).
    assert reconciles < len(claims), f"{reconciles} claim reconciles for 5 heartbeats"
    # The heartbeat itself stays visible to users.
    assert seen.status.last_probe_time.ToNanoseconds() > 0


PRODUCTION_PROBING = {**FAST_ENV, "THREEPORT_CLUSTER_PROBE_INTERVAL_SECONDS": "30"}
# Probes every 0.3 s, with the default status refresh (5 minutes): what is written between refreshes.
DEFAULT_REFRESH = {key: value for key, value in FAST_ENV.items() if key != "THREEPORT_CLUSTER_STATUS_REFRESH_SECONDS"}


@pytest.mark.parametrize("manager_env", [DEFAULT_REFRESH], indirect=True)
async def test_a_probe_that_finds_nothing_new_writes_nothing_and_a_change_is_written_at_once(
    manager: ClusterManager, kube: Kube
) -> None:
    """Between status refreshes a probe's heartbeat (``last_probe_time``, ``api_latency_ms``) is
    not written on its own: an idle fleet wrote every cluster's status every probe interval.
    What the probe finds changed (here a tenant's pod and its requests) is written at once,
    with the heartbeat of the probe that found it."""
    info = kube.cluster("quiet")
    attached = await manager.client.cluster.attach_cluster(cluster_id="quiet", kubeconfig=kube.kubeconfig(info))
    ready = await cluster_when(manager.client, attached.name, lambda c: is_true(c, "Ready"), "the cluster to be Ready")
    passes = reconciles_of("clusters.cluster")
    steady = await manager.client.cluster.get_cluster(name=attached.name)

    async def ten_more_passes() -> bool:  # ten probes, 0.3 s apart
        return reconciles_of("clusters.cluster") >= passes + 10

    await wait_until(ten_more_passes, within=WITHIN, interval=0.1, what="ten more probes")
    unchanged = await manager.client.cluster.get_cluster(name=attached.name)
    assert unchanged.etag == steady.etag, "a probe that found nothing new wrote the status"
    assert unchanged.status.last_probe_time == steady.status.last_probe_time
    assert is_true(unchanged, "Ready") and unchanged.status.node_count == ready.status.node_count

    create_pod(
        info,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "tenant", "namespace": "default"},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27",
                                     "resources": {"requests": {"cpu": "300m"}}}]},
        },
    )
    counted = await cluster_when(
        manager.client, attached.name, lambda c: c.status.requested_cpu_millis == 300, "a probe to count the pod"
    )
    assert counted.status.last_probe_time.ToNanoseconds() > steady.status.last_probe_time.ToNanoseconds()


@pytest.mark.parametrize("manager_env", [PRODUCTION_PROBING], indirect=True)
async def test_binding_claims_lists_them_without_probing_again(manager: ClusterManager, kube: Kube) -> None:
    """Bindings wake their cluster so that ``status.claims`` and ``InUse`` show them; with the
    production probe interval those passes only bring the claims up to date (probing on each was
    most of the cluster-manager's work while placing thousands of claims), and claims bound
    within ``CLUSTER_WAKE_DELAY`` of each other make one pass (one status write), not one each."""
    info = kube.cluster("bindings")
    attached = await manager.client.cluster.attach_cluster(cluster_id="bindings", kubeconfig=kube.kubeconfig(info))
    ready = await cluster_when(manager.client, attached.name, lambda c: is_true(c, "Ready"), "the cluster to be Ready")
    probed = ready.status.last_probe_time.ToNanoseconds()
    passes_before = reconciles_of("clusters.cluster")
    for index in range(5):
        await manager.internal.internal.cluster_claim.create_cluster_claim(
            cluster_claim_id=f"bindings-{index}",
            cluster_claim=cluster_claim_pb2.ClusterClaim(
                spec=cluster_claim_pb2.ClusterClaimSpec(owner=f"projects/acme/deployments/{index}",
                                                        cluster=attached.name)
            ),
        )
    listed = await cluster_when(manager.client, attached.name,
                                lambda c: len(c.status.claims) == 5 and is_true(c, "InUse"), "the cluster to list them")
    assert listed.status.last_probe_time.ToNanoseconds() == probed, "a binding probed the cluster again"
    passes = reconciles_of("clusters.cluster") - passes_before
    assert passes < 5, f"{passes} cluster passes for 5 claims bound in quick succession"
    assert is_true(listed, "Ready") and listed.status.node_count == ready.status.node_count


def claim_reconciles() -> float:
    """Claim reconciles this process made so far (``threeport.reconcile.count``, every outcome)."""
    return reconciles_of("clusters.cluster_claim")


def reconciles_of(controller: str) -> float:
    """Reconciles of ``controller`` this process made so far (every outcome)."""
    return float(
        sum(
            sample.value
            for family in READER.families()
            if family.name == "threeport_reconcile_count"
            for sample in family.samples
            if sample.name.endswith("_total") and sample.labels.get("controller") == controller
        )
    )
