"""domain.ingress: an app's ingress dependency becomes an Ingress from the AddonClaim's outputs."""

from __future__ import annotations

import kubernetes_validate
from google.protobuf import json_format

from threeport.registry.v1alpha1 import application_pb2
from threeport_workload_delivery.domain.ingress import ingresses

LABELS = {"app.kubernetes.io/managed-by": "threeport"}
OUTPUTS = {
    "ingressClass": "nginx",
    "clusterIssuer": "letsencrypt-production",
    "host": "ledger.example.com",
    "url": "https://ledger.example.com",
}


def spec(params: dict[str, object]) -> application_pb2.ApplicationSpec:
    return json_format.ParseDict(
        {
            "components": {
                "api": {"image": "registry.example.com/ledger/api:1.0.0", "ports": [{"name": "http", "port": 8080}]}
            },
            "dependencies": {"web": {"type": "ingress", "params": params}, "db": {"type": "postgres"}},
        },
        application_pb2.ApplicationSpec(),
    )


def test_an_ingress_with_tls_uses_the_claims_class_issuer_and_host() -> None:
    [ingress] = ingresses(
        spec({"component": "api", "port": "http", "host": "ledger.example.com", "tls": True}),
        "ledger",
        "acme-ledger-prod",
        LABELS,
        {"web": OUTPUTS, "db": {"host": "db"}},
    )
    assert ingress["metadata"]["name"] == "ledger-web"
    assert ingress["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt-production"}
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"hosts": ["ledger.example.com"], "secretName": "ledger-web-tls"}]
    [rule] = ingress["spec"]["rules"]
    assert rule["host"] == "ledger.example.com"
    assert rule["http"]["paths"][0]["backend"] == {"service": {"name": "ledger-api", "port": {"name": "http"}}}
    kubernetes_validate.validate(ingress, "1.32", strict=True)


def test_without_tls_a_numbered_port_and_a_path() -> None:
    [ingress] = ingresses(
        spec({"component": "api", "port": 8080, "path": "/api"}),
        "ledger",
        "ns",
        LABELS,
        {"web": {"ingressClass": "nginx"}},
    )
    assert "tls" not in ingress["spec"] and "annotations" not in ingress["metadata"]
    [rule] = ingress["spec"]["rules"]
    assert "host" not in rule
    assert rule["http"]["paths"][0]["path"] == "/api"
    assert rule["http"]["paths"][0]["backend"]["service"]["port"] == {"number": 8080}
    kubernetes_validate.validate(ingress, "1.32", strict=True)


def test_nothing_before_the_claim_publishes_outputs() -> None:
    assert ingresses(spec({"component": "api", "port": "http"}), "ledger", "ns", LABELS, {}) == []
