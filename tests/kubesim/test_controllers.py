"""Simulated controllers: Deployment rollouts through ReplicaSets, StatefulSets, DaemonSets, Jobs,
Service addresses, Nodes and Events."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from tests.kubesim.helpers import deployment, wait_for


def _condition(obj: Any, kind: str) -> Any:
    return next((c for c in (obj.status.conditions or []) if c.type == kind), None)


def _rolled_out(apps: client.AppsV1Api, namespace: str, name: str) -> bool:
    d = apps.read_namespaced_deployment(name, namespace)
    status = d.status
    return bool(
        status.observed_generation == d.metadata.generation
        and status.updated_replicas == d.spec.replicas
        and status.replicas == d.spec.replicas
        and status.available_replicas == d.spec.replicas
        and _condition(d, "Available").status == "True"
        and _condition(d, "Progressing").reason == "NewReplicaSetAvailable"
    )


def test_deployment_rolls_out_and_rolls_to_a_new_template(
    core: client.CoreV1Api, apps: client.AppsV1Api, namespace: str
) -> None:
    apps.create_namespaced_deployment(namespace, deployment("web", replicas=3))
    wait_for(lambda: _rolled_out(apps, namespace, "web"), what="first rollout")
    pods = core.list_namespaced_pod(namespace, label_selector="app=web").items
    assert len(pods) == 3
    assert all(p.status.phase == "Running" and p.spec.node_name and p.status.pod_ip for p in pods)
    assert all(p.metadata.owner_references[0].kind == "ReplicaSet" for p in pods)
    [first_rs] = apps.list_namespaced_replica_set(namespace).items
    assert first_rs.metadata.annotations["deployment.kubernetes.io/revision"] == "1"

    apps.patch_namespaced_deployment(
        "web",
        namespace,
        {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:1.28"}]}}}},
    )
    wait_for(lambda: _rolled_out(apps, namespace, "web"), what="second rollout")
    replica_sets = {rs.metadata.name: rs for rs in apps.list_namespaced_replica_set(namespace).items}
    assert len(replica_sets) == 2
    assert replica_sets[first_rs.metadata.name].spec.replicas == 0
    new_rs = next(rs for name, rs in replica_sets.items() if name != first_rs.metadata.name)
    assert new_rs.spec.replicas == 3 and new_rs.metadata.annotations["deployment.kubernetes.io/revision"] == "2"
    wait_for(
        lambda: (
            {c.image for p in core.list_namespaced_pod(namespace).items for c in p.spec.containers} == {"nginx:1.28"}
        ),
        what="old pods gone",
    )
    reasons = {e.reason for e in core.list_namespaced_event(namespace).items}
    assert {"ScalingReplicaSet", "SuccessfulCreate", "Scheduled", "Started"} <= reasons


def test_scaling_a_deployment(apps: client.AppsV1Api, core: client.CoreV1Api, namespace: str) -> None:
    apps.create_namespaced_deployment(namespace, deployment("scale", replicas=1))
    wait_for(lambda: _rolled_out(apps, namespace, "scale"), what="rollout")
    apps.patch_namespaced_deployment_scale("scale", namespace, {"spec": {"replicas": 4}})
    wait_for(lambda: _rolled_out(apps, namespace, "scale"), what="scaled up")
    assert len(core.list_namespaced_pod(namespace).items) == 4
    apps.patch_namespaced_deployment_scale("scale", namespace, {"spec": {"replicas": 1}})
    wait_for(lambda: len(core.list_namespaced_pod(namespace).items) == 1, what="scaled down")


def test_statefulset_creates_ordinal_pods_and_claims(
    apps: client.AppsV1Api, core: client.CoreV1Api, namespace: str
) -> None:
    apps.create_namespaced_stateful_set(
        namespace,
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "db"},
            "spec": {
                "replicas": 3,
                "serviceName": "db",
                "selector": {"matchLabels": {"app": "db"}},
                "template": {
                    "metadata": {"labels": {"app": "db"}},
                    "spec": {"containers": [{"name": "pg", "image": "postgres:16"}]},
                },
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "1Gi"}},
                        },
                    }
                ],
            },
        },
    )
    wait_for(
        lambda: apps.read_namespaced_stateful_set("db", namespace).status.ready_replicas == 3,
        what="statefulset ready",
    )
    assert sorted(p.metadata.name for p in core.list_namespaced_pod(namespace).items) == [
        "db-0",
        "db-1",
        "db-2",
    ]
    wait_for(
        lambda: all(c.status.phase == "Bound" for c in core.list_namespaced_persistent_volume_claim(namespace).items),
        what="claims bound",
    )
    assert sorted(c.metadata.name for c in core.list_namespaced_persistent_volume_claim(namespace).items) == [
        "data-db-0",
        "data-db-1",
        "data-db-2",
    ]
    apps.patch_namespaced_stateful_set(
        "db",
        namespace,
        {"spec": {"template": {"spec": {"containers": [{"name": "pg", "image": "postgres:17"}]}}}},
    )

    def updated() -> bool:
        sts = apps.read_namespaced_stateful_set("db", namespace)
        return bool(
            sts.status.updated_replicas == 3
            and sts.status.ready_replicas == 3
            and sts.status.current_revision == sts.status.update_revision
        )

    wait_for(updated, what="statefulset rolling update")


def test_daemonset_runs_one_pod_per_node(apps: client.AppsV1Api, core: client.CoreV1Api, namespace: str) -> None:
    nodes = [n.metadata.name for n in core.list_node().items]
    apps.create_namespaced_daemon_set(
        namespace,
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "agent"},
            "spec": {
                "selector": {"matchLabels": {"app": "agent"}},
                "template": {
                    "metadata": {"labels": {"app": "agent"}},
                    "spec": {"containers": [{"name": "a", "image": "agent:1"}]},
                },
            },
        },
    )
    wait_for(
        lambda: apps.read_namespaced_daemon_set("agent", namespace).status.number_ready == len(nodes),
        what="daemonset ready",
    )
    assert sorted(p.spec.node_name for p in core.list_namespaced_pod(namespace).items) == sorted(nodes)


def test_job_completes(api: client.ApiClient, core: client.CoreV1Api, namespace: str) -> None:
    batch = client.BatchV1Api(api)
    batch.create_namespaced_job(
        namespace,
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "migrate"},
            "spec": {
                "completions": 2,
                "parallelism": 1,
                "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "migrate:1"}]}},
            },
        },
    )
    job = wait_for(
        lambda: (j := batch.read_namespaced_job("migrate", namespace)).status.succeeded == 2 and j,
        what="job complete",
    )
    assert _condition(job, "Complete").status == "True"
    assert job.status.completion_time is not None
    assert all(p.status.phase == "Succeeded" for p in core.list_namespaced_pod(namespace).items)


def test_services_get_addresses(core: client.CoreV1Api, namespace: str) -> None:
    cluster_ip = core.create_namespaced_service(
        namespace,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "internal"},
            "spec": {"selector": {"app": "x"}, "ports": [{"port": 80}]},
        },
    )
    assert cluster_ip.spec.cluster_ip.startswith("10.96.") and cluster_ip.spec.ports[0].target_port == 80
    core.create_namespaced_service(
        namespace,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "public"},
            "spec": {"type": "LoadBalancer", "selector": {"app": "x"}, "ports": [{"port": 443}]},
        },
    )
    public = wait_for(
        lambda: (s := core.read_namespaced_service("public", namespace)).status.load_balancer.ingress and s,
        what="load balancer address",
    )
    assert public.status.load_balancer.ingress[0].ip
    assert 30000 <= public.spec.ports[0].node_port <= 32767


def test_nodes_have_capacity_and_are_ready(core: client.CoreV1Api) -> None:
    nodes = core.list_node().items
    assert len(nodes) == 2
    for node in nodes:
        assert node.status.capacity["cpu"] and node.status.allocatable["pods"] == "110"
        assert _condition(node, "Ready").status == "True"
