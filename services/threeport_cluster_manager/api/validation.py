"""Input rules for clusters and claims, reported as field violations (INVALID_ARGUMENT)."""

from __future__ import annotations

from threeport.clusters.v1alpha1 import cluster_claim_pb2, cluster_pb2
from threeport.common.v1alpha1 import retain_policy_pb2
from threeport_cluster_manager.drivers.registry import PROVIDERS, PROVISIONED
from threeport_model.locations import check_location
from threeport_model.names import is_dns_label, parse_resource_name
from threeport_runtime.errors import FieldViolation, InvalidArgument

ID_RULE = "must be a DNS-1123 label: lowercase letters, digits and '-', starting with a letter, at most 63"


def check_id(field: str, value: str) -> None:
    if not is_dns_label(value):
        raise InvalidArgument.for_fields([FieldViolation(field, ID_RULE)])


def location_violations(field: str, location: str) -> list[FieldViolation]:
    if not location:
        return []
    problem = check_location(location)
    return [FieldViolation(field, problem)] if problem else []


def label_violations(field: str, labels: dict[str, str]) -> list[FieldViolation]:
    return [
        FieldViolation(f"{field}[{key}]", "label keys must be non-empty and at most 63 characters")
        for key in labels
        if not key or len(key.rsplit("/", 1)[-1]) > 63
    ]


def cluster_violations(cluster: cluster_pb2.Cluster, *, field: str = "cluster") -> list[FieldViolation]:
    spec = cluster.spec
    violations: list[FieldViolation] = []
    if spec.provider not in PROVIDERS:
        violations.append(
            FieldViolation(f"{field}.spec.provider", f"must be one of {', '.join(PROVISIONED)} (got {spec.provider!r})")
        )
    violations += location_violations(f"{field}.spec.location", spec.location)
    if spec.profile and not spec.profile.startswith("clusterProfiles/"):
        violations.append(FieldViolation(f"{field}.spec.profile", "must be clusterProfiles/{id}"))
    if spec.account and not spec.account.startswith("accounts/"):
        violations.append(FieldViolation(f"{field}.spec.account", "must be accounts/{id}"))
    if spec.retain_policy not in retain_policy_pb2.RetainPolicy.values():
        violations.append(FieldViolation(f"{field}.spec.retain_policy", "unknown retain policy"))
    violations += label_violations(f"{field}.labels", dict(cluster.labels))
    return violations


def check_new_cluster(cluster: cluster_pb2.Cluster) -> None:
    violations = cluster_violations(cluster)
    if cluster.spec.provider == "attached":
        violations.append(
            FieldViolation("cluster.spec.provider", "attached clusters come from AttachCluster with a kubeconfig")
        )
    if violations:
        raise InvalidArgument.for_fields(violations)


def check_cluster(cluster: cluster_pb2.Cluster) -> None:
    violations = cluster_violations(cluster)
    if violations:
        raise InvalidArgument.for_fields(violations)


def check_claim(claim: cluster_claim_pb2.ClusterClaim) -> None:
    spec = claim.spec
    violations: list[FieldViolation] = []
    if not spec.owner:
        violations.append(
            FieldViolation("cluster_claim.spec.owner", "name the consumer, e.g. projects/acme/deployments/x")
        )
    if spec.cluster and parse_resource_name(spec.cluster, "clusters") is None:
        violations.append(FieldViolation("cluster_claim.spec.cluster", "must be clusters/{id}"))
    requirements = spec.requirements
    violations += location_violations("cluster_claim.spec.requirements.location", requirements.location)
    if requirements.provider and requirements.provider not in PROVIDERS:
        violations.append(
            FieldViolation("cluster_claim.spec.requirements.provider", f"must be one of {', '.join(PROVIDERS)}")
        )
    if spec.on_demand_provider and spec.on_demand_provider not in PROVISIONED:
        violations.append(
            FieldViolation("cluster_claim.spec.on_demand_provider", f"must be one of {', '.join(PROVISIONED)}")
        )
    if requirements.cpu_millis < 0 or requirements.memory_bytes < 0:
        violations.append(FieldViolation("cluster_claim.spec.requirements", "resources must not be negative"))
    if spec.profile and not spec.profile.startswith("clusterProfiles/"):
        violations.append(FieldViolation("cluster_claim.spec.profile", "must be clusterProfiles/{id}"))
    if spec.project and not spec.project.startswith("projects/"):
        violations.append(FieldViolation("cluster_claim.spec.project", "must be projects/{id}"))
    if violations:
        raise InvalidArgument.for_fields(violations)
