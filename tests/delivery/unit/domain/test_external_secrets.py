"""domain.external_secrets: a ``secret`` dependency resolved to external-secrets is claimed from
the addon-manager and becomes an ExternalSecret; env values read the synced Secret."""

from __future__ import annotations

import kubernetes_validate
import pytest
from google.protobuf import json_format

from threeport.delivery.v1alpha1 import release_pb2
from threeport.registry.v1alpha1 import application_pb2, environment_pb2
from threeport_workload_delivery.api.plan import placeholders
from threeport_workload_delivery.domain.plan import PlanInputs, plan
from threeport_workload_delivery.domain.rendering import DependencyOutputs, RenderError, RenderInput, render

ENV = environment_pb2.Environment(name="projects/acme/environments/prod")
STORE = DependencyOutputs("secrets", {"clusterSecretStore": "aws-secrets-manager"})
DB = DependencyOutputs("postgres", {"host": "db.internal"}, {"password": "pw"})


def spec(env: dict[str, str], name: str | None = "ledger/prod/stripe") -> application_pb2.ApplicationSpec:
    params: dict[str, object] = {"keys": ["api-key", "WEBHOOK"]}
    if name:
        params["name"] = name
    return json_format.ParseDict({
        "components": {"api": {"image": "reg.example.com/api:1", "env": env}},
        "dependencies": {"stripe": {"type": "secret", "params": params}, "db": {"type": "postgres"}},
    }, application_pb2.ApplicationSpec())


def rendered(app: application_pb2.ApplicationSpec) -> list[dict[str, object]]:
    return render(RenderInput(
        project="acme", deployment="projects/acme/deployments/ledger-prod", application="ledger",
        environment="prod", namespace="acme-ledger-prod", spec=app,
        images={"api": release_pb2.ImageRef(image="reg.example.com/api:1")},
        dependencies={"stripe": STORE, "db": DB}))


def test_the_secret_is_claimed_from_the_addon_manager_with_the_remote_name_and_keys() -> None:
    planned = plan(PlanInputs(
        deployment="projects/acme/deployments/ledger-prod", deployment_uid="u1", application="ledger",
        environment=ENV, namespace="ns", spec=spec({}, name=None), placement=application_pb2.Placement(), images={},
        implementations={"stripe": "external-secrets", "db": "aws-rds"}, cluster="clusters/a"))
    by_dependency = {c.dependency: c for c in planned.claims}
    stripe = by_dependency["stripe"]
    assert stripe.provider == "addons" and stripe.name.startswith("addonClaims/")
    assert stripe.type == "secrets" and stripe.spec.type == "secrets"
    assert json_format.MessageToDict(stripe.spec.params) == {
        "name": "acme/prod/ledger/stripe", "keys": ["api-key", "WEBHOOK"]}  # the default name
    assert by_dependency["db"].provider == "infra"  # other managed types are unchanged
    managed = plan(PlanInputs(
        deployment="projects/acme/deployments/ledger-prod", deployment_uid="u1", application="ledger",
        environment=ENV, namespace="ns", spec=spec({}), placement=application_pb2.Placement(), images={},
        implementations={"stripe": "aws-secretsmanager"}))
    assert {c.dependency: c.provider for c in managed.claims}["stripe"] == "infra"


def test_an_external_secret_syncs_the_named_secret_and_env_reads_it_without_the_values() -> None:
    objects = rendered(spec({"STRIPE_KEY": "${dependencies.stripe.api-key}",
                             "HOOK_URL": "https://h/$(x)?k=${dependencies.stripe.WEBHOOK}&db=${dependencies.db.host}",
                             "LEVEL": "info"}))
    [external] = [o for o in objects if o["kind"] == "ExternalSecret"]
    assert external["metadata"]["name"] == "ledger-stripe"  # type: ignore[index]
    assert external["spec"] == {  # type: ignore[index]
        "refreshInterval": "1h",
        "secretStoreRef": {"kind": "ClusterSecretStore", "name": "aws-secrets-manager"},
        "target": {"name": "ledger-stripe", "creationPolicy": "Owner"},
        "data": [{"secretKey": "api-key", "remoteRef": {"key": "ledger/prod/stripe", "property": "api-key"}},
                 {"secretKey": "WEBHOOK", "remoteRef": {"key": "ledger/prod/stripe", "property": "WEBHOOK"}}],
    }
    [deployment] = [o for o in objects if o["kind"] == "Deployment"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]  # type: ignore[index]
    assert container["env"] == [
        {"name": "TP_SECRET_STRIPE_WEBHOOK",
         "valueFrom": {"secretKeyRef": {"name": "ledger-stripe", "key": "WEBHOOK"}}},
        {"name": "HOOK_URL", "value": "https://h/$$(x)?k=$(TP_SECRET_STRIPE_WEBHOOK)&db=db.internal"},
        {"name": "STRIPE_KEY", "valueFrom": {"secretKeyRef": {"name": "ledger-stripe", "key": "api-key"}}},
    ]
    [config] = [o for o in objects if o["kind"] == "ConfigMap"]
    assert config["data"] == {"LEVEL": "info"}  # the synced values are in no ConfigMap or Secret
    assert not [o for o in objects if o["kind"] == "Secret"]
    kubernetes_validate.validate(deployment, "1.32", strict=True)


def test_a_value_mixing_a_synced_key_with_another_secret_is_refused() -> None:
    with pytest.raises(RenderError, match=r"HOOK mixes .*db\.password.* split it"):
        rendered(spec({"HOOK": "${dependencies.stripe.WEBHOOK}:${dependencies.db.password}"}))


def test_a_plan_renders_secrets_before_any_claim_published_synced_or_managed() -> None:
    app = spec({"STRIPE_KEY": "${dependencies.stripe.api-key}", "DB": "${dependencies.db.host}"})
    for implementation, kind in (("external-secrets", "ExternalSecret"), ("aws-secretsmanager", "Secret")):
        outputs = {name: placeholders(name, dep, implementation if name == "stripe" else "local")
                   for name, dep in app.dependencies.items()}
        planned = plan(PlanInputs(
            deployment="projects/acme/deployments/ledger-prod", deployment_uid="u1", application="ledger",
            environment=ENV, namespace="ns", spec=app, placement=application_pb2.Placement(), images={},
            implementations={"stripe": implementation}, outputs=outputs))
        assert planned.objects is not None
        assert kind in {o["kind"] for o in planned.objects}, implementation
