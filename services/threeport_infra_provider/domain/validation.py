"""Validators run by StandardMethods on the final message before any write."""

from __future__ import annotations

import ipaddress

from threeport.infra.v1alpha1 import cluster_infra_pb2, managed_service_pb2, service_claim_pb2
from threeport_infra_provider.domain.names import DNS_LABEL
from threeport_infra_provider.domain.services import parameters, spec_violations
from threeport_runtime.errors import FieldViolation, InvalidArgument


def check_claim(claim: service_claim_pb2.ServiceClaim) -> None:
    if found := claim_violations(claim.spec, "service_claim.spec"):
        raise InvalidArgument.for_fields(found)


def claim_violations(spec: service_claim_pb2.ServiceClaimSpec, prefix: str) -> list[FieldViolation]:
    found = spec_violations(
        prefix,
        type_=spec.type,
        implementation=spec.implementation,
        account=spec.account,
        cluster=spec.cluster,
        namespace=spec.namespace,
        params=parameters(spec.parameters),
    )
    if not spec.owner:
        found.append(FieldViolation(f"{prefix}.owner", "the consumer's name, e.g. projects/acme/deployments/x"))
    if not spec.dependency:
        found.append(FieldViolation(f"{prefix}.dependency", "the dependency's name in the application"))
    return found


def check_managed_service(service: managed_service_pb2.ManagedService) -> None:
    spec = service.spec
    found = spec_violations(
        "managed_service.spec",
        type_=spec.type,
        implementation=spec.implementation,
        account=spec.account,
        cluster=spec.cluster,
        namespace=spec.namespace,
        params=parameters(spec.parameters),
    )
    if found:
        raise InvalidArgument.for_fields(found)


def check_cluster_infra(infra: cluster_infra_pb2.ClusterInfra) -> None:
    """A ClusterInfra the builder can build: a cluster, an IPv4 VPC CIDR from /8 to /18 (it is
    cut into /20 subnets, six for three zones) and node groups with sane sizes."""
    spec = infra.spec
    field = "cluster_infra.spec"
    found: list[FieldViolation] = []
    if not spec.cluster.startswith("clusters/"):
        found.append(FieldViolation(f"{field}.cluster", "the cluster it is for, clusters/{id}"))
    if spec.vpc_cidr:
        try:
            network = ipaddress.ip_network(spec.vpc_cidr)
        except ValueError:
            network = None
        if network is None or network.version != 4 or not 8 <= network.prefixlen <= 18:
            found.append(FieldViolation(f"{field}.vpc_cidr", "must be an IPv4 CIDR from /8 to /18, e.g. 10.0.0.0/16"))
    names: set[str] = set()
    for index, group in enumerate(spec.node_groups):
        at = f"{field}.node_groups[{index}]"
        if not DNS_LABEL.match(group.name) or group.name in names:
            found.append(FieldViolation(f"{at}.name", "a unique DNS label, e.g. default"))
        names.add(group.name)
        if not group.instance_type:
            found.append(FieldViolation(f"{at}.instance_type", "an EC2 instance type, e.g. m6i.large"))
        if not 1 <= group.min_size <= group.desired_size <= group.max_size:
            found.append(FieldViolation(at, "needs 1 <= min_size <= desired_size <= max_size"))
    if found:
        raise InvalidArgument.for_fields(found)
