"""domain.claims: the claims a deployment should hold, and when a live claim needs an update."""

from __future__ import annotations

from google.protobuf import json_format

from threeport.addons.v1alpha1 import addon_claim_pb2
from threeport.clusters.v1alpha1 import cluster_claim_pb2
from threeport.registry.v1alpha1 import application_pb2
from threeport_workload_delivery.domain import claims

DEPLOYMENT = "projects/acme/deployments/shop-dev"


def spec(**dependencies: dict[str, object]) -> application_pb2.ApplicationSpec:
    return json_format.ParseDict({"components": {"api": {"image": "x:1"}}, "dependencies": dependencies},
                                 application_pb2.ApplicationSpec())


def wanted(app: application_pb2.ApplicationSpec, **placement: str) -> list[claims.DesiredClaim]:
    return claims.desired_claims(
        deployment=DEPLOYMENT, deployment_uid="uid-1", spec=app, environment="projects/acme/environments/dev",
        cluster=placement.get("cluster", "clusters/a"), namespace=placement.get("namespace", "acme-shop-dev"),
        implementations={"db": "local"})


def test_one_claim_per_addon_or_managed_service_and_none_for_applications() -> None:
    found = wanted(spec(db={"type": "postgres", "class": "small", "params": {"version": "16"}},
                        web={"type": "ingress"}, rates={"type": "application", "params": {"application": "rates"}}))
    assert [(c.dependency, c.provider, c.name.split("/")[0]) for c in found] == [
        ("db", "infra", "serviceClaims"), ("web", "addons", "addonClaims")]
    db = found[0].spec
    assert (db.owner, db.type, getattr(db, "class"), db.implementation, db.cluster, db.namespace) == (
        DEPLOYMENT, "postgres", "small", "local", "clusters/a", "acme-shop-dev")
    assert isinstance(found[1].spec, addon_claim_pb2.AddonClaimSpec) and found[1].spec.project == "projects/acme"
    # Derived names: the same deployment incarnation and dependency always name the same claim.
    assert [c.name for c in found] == [c.name for c in wanted(spec(db={"type": "postgres"}, web={"type": "ingress"}))]
    assert all(claims.is_claim(c.name) for c in found) and not claims.is_claim("clusterClaims/x")


def test_class_params_and_placement_changes_are_differences() -> None:
    before = wanted(spec(db={"type": "postgres", "class": "small", "params": {"version": "16"}}))[0].spec
    assert claims.differs(before, before) == []
    larger = wanted(spec(db={"type": "postgres", "class": "large", "params": {"version": "16"}}))[0].spec
    assert claims.differs(larger, before) == ["class"]
    no_params = wanted(spec(db={"type": "postgres", "class": "small"}))[0].spec
    assert claims.differs(no_params, before) == ["parameters"]
    moved = wanted(spec(db={"type": "postgres", "class": "small", "params": {"version": "16"}}),
                   cluster="clusters/b")[0].spec
    assert claims.differs(moved, before) == ["cluster"]


def test_placement_differences_of_cluster_claims() -> None:
    spec = cluster_claim_pb2.ClusterClaimSpec(owner=DEPLOYMENT, requirements=cluster_claim_pb2.ClusterRequirements(
        location="eu"), profile="clusterProfiles/small")
    same = cluster_claim_pb2.ClusterClaimSpec()
    same.CopyFrom(spec)
    assert claims.differs(spec, same, claims.PLACEMENT) == []
    same.requirements.labels["tier"] = "gold"
    same.allow_on_demand = True
    assert claims.differs(spec, same, claims.PLACEMENT) == ["allow_on_demand", "requirements"]
