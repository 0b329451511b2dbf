"""When an object counts as ready (``threeport_runtime.kube.readiness``), kind by kind."""

from __future__ import annotations

from typing import Any

from threeport_runtime.kube.readiness import readiness


def deployment(generation: int, observed: int, replicas: int, updated: int, available: int) -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "metadata": {"generation": generation},
        "spec": {"replicas": replicas},
        "status": {"observedGeneration": observed, "updatedReplicas": updated, "availableReplicas": available},
    }


def test_a_deployment_is_ready_once_every_replica_of_the_latest_spec_is_available() -> None:
    assert readiness(deployment(2, 2, 3, 3, 3)).ready
    unobserved = readiness(deployment(3, 2, 3, 3, 3))
    assert not unobserved.ready and "observe" in unobserved.message
    rolling = readiness(deployment(2, 2, 3, 1, 3))
    assert not rolling.ready and rolling.message == "1 of 3 replicas updated"
    starting = readiness(deployment(2, 2, 3, 3, 2))
    assert not starting.ready and starting.message == "2 of 3 updated replicas available"


def with_condition(kind: str, **condition: str) -> dict[str, Any]:
    return {"kind": kind, "status": {"conditions": [condition]}}


def test_condition_and_phase_kinds() -> None:
    assert readiness(with_condition("CustomResourceDefinition", type="Established", status="True")).ready
    pending_pod = with_condition("Pod", type="Ready", status="False", reason="ContainersNotReady")
    assert readiness(pending_pod).message == "waiting for condition Ready: ContainersNotReady"
    assert readiness({"kind": "Namespace", "status": {"phase": "Active"}}).ready
    assert not readiness({"kind": "Namespace", "status": {"phase": "Terminating"}}).ready
    assert not readiness({"kind": "Job", "status": {}}).ready


def test_kinds_without_readiness_are_ready_when_they_exist_unless_they_report_ready() -> None:
    assert readiness({"kind": "ConfigMap"}).ready
    assert not readiness(with_condition("Widget", type="Ready", status="False")).ready
