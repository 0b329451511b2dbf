"""domain.overrides: environment then deployment overrides merged into components, with where
each effective value came from; Helm values deep-merged."""

from __future__ import annotations

from google.protobuf import json_format

from threeport.delivery.v1alpha1 import deployment_pb2
from threeport.registry.v1alpha1 import application_pb2, environment_pb2
from threeport_model.overrides import component_violations, shape_violations
from threeport_workload_delivery.domain.overrides import layers_for, merge, merge_values

SPEC = json_format.ParseDict({
    "components": {
        "api": {"image": "r/api:1", "replicas": 2, "env": {"LOG_LEVEL": "info", "MODE": "web"},
                "resources": {"cpu": "100m", "memory": "128Mi"}},
        "worker": {"image": "r/worker:1"},
    },
    "dependencies": {"db": {"type": "postgres"}},
}, application_pb2.ApplicationSpec())


def override(**fields: object) -> environment_pb2.ComponentOverride:
    return json_format.ParseDict(fields, environment_pb2.ComponentOverride())


def environment(*entries: environment_pb2.ComponentOverride) -> environment_pb2.Environment:
    return environment_pb2.Environment(name="projects/acme/environments/prod",
                                       spec=environment_pb2.EnvironmentSpec(overrides=entries))


def deployment(*entries: environment_pb2.ComponentOverride) -> deployment_pb2.Deployment:
    return deployment_pb2.Deployment(name="projects/acme/deployments/ledger-prod",
                                     spec=deployment_pb2.DeploymentSpec(application="ledger", overrides=entries))


def test_environment_then_deployment_with_provenance() -> None:
    env = environment(
        override(application="ledger", component="api", replicas=3, env={"LOG_LEVEL": "debug"},
                 resources={"memory": "512Mi", "limits": {"memory": "1Gi"}}),
        override(application="other", component="api", replicas=9),
    )
    dep = deployment(override(component="api", env={"FEATURE": "on"}, replicas=4))
    merged = merge(SPEC, layers_for("ledger", env, dep))
    api = merged.spec.components["api"]
    assert api.replicas == 4  # the deployment's layer comes last
    assert dict(api.env) == {"LOG_LEVEL": "debug", "MODE": "web", "FEATURE": "on"}
    assert (api.resources.cpu, api.resources.memory, api.resources.limits.memory) == ("100m", "512Mi", "1Gi")
    assert merged.spec.components["worker"] == SPEC.components["worker"]
    assert SPEC.components["api"].replicas == 2, "the application's spec is not changed"
    origin = {(v.component, v.field): (v.value, v.source) for v in merged.provenance}
    assert origin[("api", "replicas")] == ("4", "deployment/ledger-prod")
    assert origin[("api", "env.LOG_LEVEL")] == ("debug", "environment/prod")
    assert origin[("api", "env.MODE")] == ("web", "application")
    assert origin[("api", "env.FEATURE")] == ("on", "deployment/ledger-prod")
    assert origin[("api", "resources.cpu")] == ("100m", "application")
    assert origin[("api", "resources.limits.memory")] == ("1Gi", "environment/prod")
    assert origin[("worker", "replicas")] == ("1", "application")


def test_helm_values_deep_merge() -> None:
    assert merge_values({"db": {"host": "a", "port": 5432}, "tags": [1]}, {"db": {"host": "b"}, "tags": [2]}) == {
        "db": {"host": "b", "port": 5432}, "tags": [2]}
    env = environment(override(application="ledger", component="api", values={"db": {"host": "x", "pool": 5}}))
    dep = deployment(override(component="api", values={"db": {"pool": 10}, "debug": True}))
    merged = merge(SPEC, layers_for("ledger", env, dep))
    assert merged.values["api"] == {"db": {"host": "x", "pool": 10}, "debug": True}
    origin = {(v.component, v.field): (v.value, v.source) for v in merged.provenance}
    assert origin[("api", "values.db.host")] == ("x", "environment/prod")
    assert origin[("api", "values.db.pool")] == ("10", "deployment/ledger-prod")
    assert origin[("api", "values.debug")] == ("true", "deployment/ledger-prod")


def test_helm_values_overrides_reach_the_chart_values_of_a_helm_component() -> None:
    spec = application_pb2.ApplicationSpec()
    spec.CopyFrom(SPEC)
    json_format.ParseDict({"kind": "helm", "helm": {
        "repository": "https://charts.example.com", "chart": "web", "version": "0.1.0",
        "values": {"replicaCount": 1, "db": {"host": "a", "port": 5432}}}}, spec.components["charts"])
    env = environment(override(application="ledger", component="charts", values={"db": {"host": "b"}}))
    merged = merge(spec, layers_for("ledger", env, deployment()))
    values = json_format.MessageToDict(merged.spec.components["charts"].helm.values)
    assert values == {"replicaCount": 1, "db": {"host": "b", "port": 5432}}
    assert json_format.MessageToDict(spec.components["charts"].helm.values)["db"]["host"] == "a"


def test_shape_and_component_violations() -> None:
    entries = [override(application="", component="api"), override(application="ledger", component="Bad!"),
               override(application="ledger", component="api", replicas=0, env={"1X": "v"},
                        resources={"cpu": "lots"}),
               override(application="ledger", component="api")]
    found = dict(shape_violations(entries, "environment.spec.overrides"))
    assert "environment.spec.overrides[0].application" in found
    assert "environment.spec.overrides[1].component" in found
    assert found["environment.spec.overrides[2].replicas"] == "must be at least 1, not 0"
    assert "environment.spec.overrides[2].env[1X]" in found
    assert "environment.spec.overrides[2].resources.cpu" in found
    assert "already overridden by entry 2" in found["environment.spec.overrides[3]"]
    assert dict(shape_violations([override(application="other", component="api")], "d", application="ledger")) == {
        "d[0].application": "a deployment of 'ledger' can only override 'ledger'; leave it empty"}
    missing = component_violations(override(component="web"), "e[0]", "ledger", SPEC)
    assert missing == [("e[0].component", "application 'ledger' has no component 'web'; its components: api, worker")]
    undeclared = component_violations(override(component="api", env={"X": "${dependencies.cache.url}"}), "e[0]",
                                      "ledger", SPEC)
    assert undeclared[0][0] == "e[0].env[X]" and "declared: db" in undeclared[0][1]
