"""domain.ingress: an app's ingress dependency becomes an Ingress from the AddonClaim's outputs."""

from __future__ import annotations

import kubernetes_validate
from google.protobuf import json_format

from threeport.registry.v1alpha1 import application_pb2, environment_pb2
from threeport_workload_delivery.domain.claims import differs
from threeport_workload_delivery.domain.ingress import default_host, ingresses
from threeport_workload_delivery.domain.plan import PlanInputs, plan

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


def test_the_default_host_is_app_dash_env_in_the_environments_domain() -> None:
    assert default_host("ledger", "prod", "example.com") == "ledger-prod.example.com"
    assert default_host("ledger", "prod", "") == ""
    long = default_host("a" * 40, "e" * 40, "example.com")
    first = long.split(".")[0]
    assert len(first) <= 63 and long.endswith(".example.com")
    assert default_host("a" * 40, "e" * 40, "example.com") == long  # stable


def test_addon_claims_carry_the_default_host_only_when_the_environment_has_a_domain() -> None:
    app = spec({"component": "api", "port": "http"})
    with_domain = environment_pb2.Environment(
        name="projects/acme/environments/prod", spec=environment_pb2.EnvironmentSpec(domain="example.com"))
    planned = plan(PlanInputs(
        deployment="projects/acme/deployments/ledger-prod", deployment_uid="u1", application="ledger",
        environment=with_domain, namespace="ns", spec=app, placement=application_pb2.Placement(), images={}))
    [web] = [c for c in planned.claims if c.dependency == "web"]
    assert web.spec.default_host == "ledger-prod.example.com"
    without = plan(PlanInputs(
        deployment="projects/acme/deployments/ledger-prod", deployment_uid="u1", application="ledger",
        environment=environment_pb2.Environment(name="projects/acme/environments/prod"), namespace="ns", spec=app,
        placement=application_pb2.Placement(), images={}))
    [web] = [c for c in without.claims if c.dependency == "web"]
    assert web.spec.default_host == ""
    # A domain set later is a change the claim is updated for.
    assert differs(planned.claims[1].spec, without.claims[1].spec) == ["default_host"]
