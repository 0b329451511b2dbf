"""Pure rules: placement scoring and reasons, kubeconfig parsing, quantities, names, versions."""

from __future__ import annotations

import base64

import pytest
import yaml

from threeport.clusters.v1alpha1 import cluster_claim_pb2, cluster_pb2
from threeport.common.v1alpha1 import condition_pb2
from threeport_cluster_manager.domain.kubeconfig import KubeconfigError, parse_kubeconfig
from threeport_cluster_manager.domain.names import on_demand_cluster_id, provisioned_cluster_id
from threeport_cluster_manager.domain.placement import Usage, estimate, free_cpu_millis, place
from threeport_cluster_manager.domain.versions import version_problem
from threeport_model.names import is_dns_label
from threeport_model.quantities import cpu_millis, memory_bytes

TRUE = condition_pb2.CONDITION_STATUS_TRUE
FALSE = condition_pb2.CONDITION_STATUS_FALSE


def cluster(name: str, cpu: int = 4000, used: int = 0, reachable: bool = True, **labels: str) -> cluster_pb2.Cluster:
    return cluster_pb2.Cluster(
        name=f"clusters/{name}",
        labels=labels,
        spec=cluster_pb2.ClusterSpec(provider="sim", location="Europe:Paris"),
        status=cluster_pb2.ClusterStatus(
            allocatable_cpu_millis=cpu, requested_cpu_millis=used, allocatable_memory_bytes=2**34
        ),
        conditions=[
            condition_pb2.Condition(type="Reachable", status=TRUE if reachable else FALSE),
            condition_pb2.Condition(type="Ready", status=TRUE if reachable else FALSE),
        ],
    )


def claim(**spec: object) -> cluster_claim_pb2.ClusterClaim:
    return cluster_claim_pb2.ClusterClaim(spec=cluster_claim_pb2.ClusterClaimSpec(**spec))  # type: ignore[arg-type]


def named_claim(name: str) -> cluster_claim_pb2.ClusterClaim:
    return cluster_claim_pb2.ClusterClaim(name=f"clusters/-/claims/{name}")


def test_most_free_capacity_wins() -> None:
    clusters = [cluster("a", 4000, 3000), cluster("b", 4000, 1000), cluster("c", 4000, 2000)]
    assert place(claim(), clusters).cluster == "clusters/b"


def test_ties_spread_over_equal_clusters_instead_of_the_first_by_name() -> None:
    clusters = [cluster(f"c{index}") for index in range(10)]
    chosen = [place(named_claim(f"app-{index}"), clusters).cluster for index in range(500)]
    counts = {name: chosen.count(name) for name in set(chosen)}
    # Every cluster gets a share (the old rule sent all 500 to clusters/c0).
    assert len(counts) == 10 and min(counts.values()) >= 20, counts
    # Stable: the same claim lands on the same cluster every time, whatever the list order.
    assert place(named_claim("app-7"), list(reversed(clusters))).cluster == chosen[7]


def test_unseen_requests_are_counted_once() -> None:
    seen = cluster("a", 4000, used=1200)  # 1000m of it pods of two deployments
    seen.status.deployments_requested_cpu_millis, seen.status.deployments_running = 1000, 2
    guess = estimate([seen, cluster("b")])
    assert guess.cpu_millis == 500
    # Two declared claims (600m) and two undeclared (2 x 500m) bound; the pods seen cover 1000m.
    usage = Usage(bound=4, cpu_millis=600, undeclared=2)
    assert free_cpu_millis(seen, usage, guess) == 4000 - 1200 - 600
    # Bound after the probe: counted even when the pods seen would cover it.
    fresh = Usage(bound=1, cpu_millis=300, since_probe_cpu_millis=300)
    assert free_cpu_millis(seen, fresh, guess) == 4000 - 1200 - 300


def test_fewest_bound_claims_break_ties_before_the_hash() -> None:
    clusters = [cluster("a"), cluster("b"), cluster("c")]
    bound = {"clusters/a": Usage(bound=5), "clusters/b": Usage(bound=2), "clusters/c": Usage(bound=5)}
    decisions = [place(named_claim(f"app-{index}"), clusters, bound) for index in range(20)]
    assert {decision.cluster for decision in decisions} == {"clusters/b"}
    assert "2 claims bound" in decisions[0].reason
    # Capacity still comes first: a busier cluster with more room wins.
    roomier = [cluster("a", 8000), cluster("b")]
    assert place(named_claim("x"), roomier, bound).cluster == "clusters/a"


def test_unhealthy_cordoned_and_deleting_clusters_are_skipped_with_reasons() -> None:
    cordoned = cluster("cordoned", 8000)
    cordoned.spec.cordoned = True
    deleting = cluster("deleting", 8000)
    deleting.delete_time.GetCurrentTime()
    clusters = [cluster("down", 8000, reachable=False), cordoned, deleting, cluster("ok", 1000)]
    decision = place(claim(), clusters)
    assert decision.cluster == "clusters/ok"
    none = place(claim(requirements=cluster_claim_pb2.ClusterRequirements(labels={"x": "y"})), clusters)
    assert not none.cluster and not none.provision
    for text in (
        "clusters/down: unreachable",
        "clusters/cordoned: cordoned",
        "clusters/deleting: being deleted",
        "clusters/ok: label x=y missing",
    ):
        assert text in none.reason


def test_explicit_beats_requirements_and_on_demand_only_when_allowed() -> None:
    clusters = [cluster("a", gpu="no"), cluster("b")]
    explicit = claim(cluster="clusters/a", requirements=cluster_claim_pb2.ClusterRequirements(labels={"gpu": "yes"}))
    assert place(explicit, clusters).cluster == "clusters/a"
    assert "does not exist" in place(claim(cluster="clusters/zz"), clusters).reason
    big = cluster_claim_pb2.ClusterRequirements(cpu_millis=10_000)
    assert place(claim(requirements=big, allow_on_demand=True), clusters).provision
    assert not place(claim(requirements=big), clusters).provision


def test_project_restriction() -> None:
    restricted = cluster("r")
    restricted.spec.projects.append("projects/acme")
    assert place(claim(project="projects/acme"), [restricted]).cluster == "clusters/r"
    assert not place(claim(project="projects/other"), [restricted]).cluster


KUBECONFIG = {
    "apiVersion": "v1",
    "current-context": "main",
    "clusters": [
        {
            "name": "c",
            "cluster": {"server": "https://k:6443/", "certificate-authority-data": base64.b64encode(b"CA").decode()},
        }
    ],
    "contexts": [{"name": "main", "context": {"cluster": "c", "user": "u"}}],
    "users": [{"name": "u", "user": {"token": "t0k"}}],
}


def test_kubeconfig_parses_and_refuses_what_the_server_cannot_use() -> None:
    connection = parse_kubeconfig(yaml.safe_dump(KUBECONFIG))
    assert (connection.server, connection.certificate_authority_data, connection.token) == (
        "https://k:6443",
        b"CA",
        "t0k",
    )
    assert "t0k" not in repr(connection)
    for user, message in (
        ({"token-file": "/x"}, "--flatten"),
        ({"exec": {"command": "aws"}}, "exec plugin"),
        ({}, "no credentials"),
        ({"client-certificate-data": "QQ=="}, "without its key"),
        ({"token": "t", "username": "u"}, "basic authentication"),
    ):
        document = {**KUBECONFIG, "users": [{"name": "u", "user": user}]}
        with pytest.raises(KubeconfigError, match=message):
            parse_kubeconfig(yaml.safe_dump(document))
    with pytest.raises(KubeconfigError, match="no context named"):
        parse_kubeconfig(yaml.safe_dump(KUBECONFIG), "other")


def test_quantities_names_and_versions() -> None:
    assert cpu_millis("250m") == 250 and cpu_millis("4") == 4000 and cpu_millis("bogus") == 0
    assert memory_bytes("16384Mi") == 16 * 2**30 and memory_bytes("1G") == 10**9
    long_id = on_demand_cluster_id("x" * 80, "uid-1")
    assert is_dns_label(long_id) and long_id == on_demand_cluster_id("x" * 80, "uid-1")
    assert provisioned_cluster_id("a", "uid-1") != provisioned_cluster_id("a", "uid-2")
    assert version_problem("1.32") is None and version_problem("v1.30.2") is None
    assert "older than" in (version_problem("1.20") or "")


def test_eks_node_layout_follows_the_cluster_profile() -> None:
    from threeport.registry.v1alpha1 import cluster_profile_pb2
    from threeport_cluster_manager.domain.eks_sizing import node_layout

    group, ha = node_layout(None)
    assert (group.instance_type, group.min_size, group.max_size, group.desired_size, ha) == (
        "m6i.large",
        1,
        3,
        2,
        False,
    )
    spec = cluster_profile_pb2.ClusterProfileSpec
    group, ha = node_layout(spec(node_size="large", min_nodes=2, max_nodes=5))
    assert (group.instance_type, group.min_size, group.max_size, group.desired_size, ha) == (
        "m6i.2xlarge",
        2,
        5,
        2,
        False,
    )
    # HA: three zones and at least a node in each; an explicit instance type wins over the size.
    group, ha = node_layout(
        spec(node_size="small", node_profile="m7g.large", min_nodes=1, max_nodes=2, high_availability=True)
    )
    assert (group.instance_type, group.min_size, group.max_size, group.desired_size, ha) == ("m7g.large", 3, 3, 3, True)
