"""domain.monitoring: a metrics dependency becomes a ServiceMonitor per component with a
`metrics` port, once the claim has published its outputs."""

from __future__ import annotations

from google.protobuf import json_format

from threeport.registry.v1alpha1 import application_pb2
from threeport_workload_delivery.domain.monitoring import service_monitors

DEPLOYMENT = "projects/acme/deployments/ledger-prod"


def spec(with_metrics: bool) -> application_pb2.ApplicationSpec:
    return json_format.ParseDict(
        {
            "components": {
                "api": {"image": "r.example.com/api:1", "ports": [{"name": "metrics", "port": 9090}]},
                "web": {"image": "r.example.com/web:1", "ports": [{"name": "http", "port": 80}]},
            },
            "dependencies": {"m": {"type": "metrics"}} if with_metrics else {},
        },
        application_pb2.ApplicationSpec(),
    )


def test_one_service_monitor_per_component_with_a_metrics_port() -> None:
    [monitor] = service_monitors(spec(True), "ledger", DEPLOYMENT, "ns", {}, {"m": {}})
    assert monitor["metadata"]["name"] == "ledger-api"
    assert monitor["spec"]["selector"]["matchLabels"] == {
        "threeport.io/deployment": "ledger-prod",
        "threeport.io/component": "api",
    }


def test_none_without_a_metrics_dependency_or_before_its_outputs() -> None:
    assert service_monitors(spec(False), "ledger", DEPLOYMENT, "ns", {}, {}) == []
    assert service_monitors(spec(True), "ledger", DEPLOYMENT, "ns", {}, {}) == []
