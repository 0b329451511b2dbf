"""domain.plan: one pure plan of claims and objects, shared by the reconciler and Plan."""

from __future__ import annotations

import pytest
from google.protobuf import json_format

from threeport.delivery.v1alpha1 import release_pb2
from threeport.registry.v1alpha1 import application_pb2, environment_pb2
from threeport_workload_delivery.domain.plan import PlanInputs, cluster_claim_for, plan
from threeport_workload_delivery.domain.rendering import DependencyOutputs, RenderError

SPEC = json_format.ParseDict({
    "components": {"api": {"image": "reg.example.com/api:1", "ports": [{"name": "http", "port": 8080}],
                           "env": {"DB": "${dependencies.db.url}", "LEVEL": "info"}}},
    "dependencies": {"db": {"type": "postgres", "class": "small"}},
}, application_pb2.ApplicationSpec())
ENV = environment_pb2.Environment(name="projects/acme/environments/dev", spec=environment_pb2.EnvironmentSpec(
    cluster_labels={"tier": "dev"}, cluster_profile="small", on_demand_clusters=True))


def inputs(**changes: object) -> PlanInputs:
    base: dict[str, object] = dict(
        deployment="projects/acme/deployments/shop-dev", deployment_uid="u1", application="shop", environment=ENV,
        namespace="acme-shop-dev", spec=SPEC, placement=application_pb2.Placement(location="eu"),
        images={"api": release_pb2.ImageRef(image="reg.example.com/api:2")}, implementations={"db": "local"},
        cluster="clusters/a")
    base.update(changes)
    return PlanInputs(**base)  # type: ignore[arg-type]


def test_claims_are_known_before_outputs_and_objects_once_every_output_is() -> None:
    early = plan(inputs())
    assert [c.dependency for c in early.claims] == ["db"] and early.claims[0].spec.cluster == "clusters/a"
    assert early.objects is None and early.waiting == ["db"]
    ready = plan(inputs(outputs={"db": DependencyOutputs("postgres", {"host": "h"}, {"url": "postgres://x"})}))
    assert ready.waiting == [] and ready.objects is not None
    kinds = [o["kind"] for o in ready.objects]
    assert kinds[0] == "Namespace" and {"Deployment", "Service", "Secret", "ConfigMap"} <= set(kinds)
    workload = next(o for o in ready.objects if o["kind"] == "Deployment")
    assert workload["spec"]["template"]["spec"]["containers"][0]["image"] == "reg.example.com/api:2"
    assert ready.claims == early.claims


def test_the_same_inputs_give_the_same_plan() -> None:
    outputs = {"db": DependencyOutputs("postgres", {}, {"url": "postgres://x"})}
    assert plan(inputs(outputs=outputs)) == plan(inputs(outputs=outputs))


def test_a_reference_to_an_output_nobody_publishes_cannot_render() -> None:
    with pytest.raises(RenderError):
        plan(inputs(outputs={"db": DependencyOutputs("postgres", {"host": "h"}, {})}))


def test_the_cluster_claim_puts_the_application_placement_over_the_environment() -> None:
    claim = cluster_claim_for("projects/acme/deployments/shop-dev",
                              application_pb2.Placement(location="eu", cluster_labels={"tier": "gold"}), ENV)
    assert claim.spec.owner == "projects/acme/deployments/shop-dev"
    assert claim.spec.requirements.location == "eu" and dict(claim.spec.requirements.labels) == {"tier": "gold"}
    assert claim.spec.profile == "clusterProfiles/small" and claim.spec.allow_on_demand
    assert claim.spec.project == "projects/acme" and claim.labels["threeport.io/deployment"] == "shop-dev"


def test_a_later_plan_reuses_objects_rendered_from_the_same_input_and_only_then() -> None:
    outputs = {"db": DependencyOutputs("postgres", {"host": "h"}, {"url": "postgres://x"})}
    first = plan(inputs(outputs=outputs))
    again = plan(inputs(outputs=outputs, cluster="clusters/b"), earlier=first)  # the cluster is not rendered
    assert again.objects is first.objects and again.claims != first.claims
    moved = plan(inputs(outputs=outputs, namespace="acme-shop-other"), earlier=first)
    assert moved.objects is not first.objects
    assert moved.objects == plan(inputs(outputs=outputs, namespace="acme-shop-other")).objects
    assert {o["metadata"].get("namespace") for o in moved.objects or []} - {None} == {"acme-shop-other"}
    newer = plan(inputs(outputs={"db": DependencyOutputs("postgres", {"host": "h2"}, {"url": "postgres://y"})}),
                 earlier=first)
    assert newer.objects != first.objects
