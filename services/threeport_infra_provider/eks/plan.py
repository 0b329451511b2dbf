"""What a ClusterInfra becomes (pure): the names, tags, subnet layout and node groups.

Every AWS resource is named and tagged from the ClusterInfra's uid, so a retried create finds
what an interrupted one made (``tp-{id}-{uid prefix}`` plus the step's role). The VPC CIDR is
cut into /20s: public subnets first, private subnets after them, one of each per zone.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from threeport.infra.v1alpha1 import cluster_infra_pb2
from threeport_infra_provider.domain.names import last_segment

DEFAULT_CIDR = "10.0.0.0/16"
DEFAULT_VERSION = "1.32"
MANAGED_BY_TAG = "threeport.io/managed-by"
INFRA_TAG = "threeport.io/cluster-infra"
UID_TAG = "threeport.io/uid"
ROLE_TAG = "threeport.io/role"
# AWS managed policies the two roles need (what `eksctl` attaches).
CLUSTER_POLICIES = ("arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",)
NODE_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
)


@dataclass(frozen=True)
class Zone:
    name: str
    public_cidr: str
    private_cidr: str


@dataclass(frozen=True)
class Plan:
    name: str  # the EKS cluster's name and the stem of every other name
    uid: str
    infra: str  # clusterInfras/{id}
    region: str
    version: str
    vpc_cidr: str
    zone_count: int
    node_groups: tuple[cluster_infra_pb2.NodeGroup, ...]

    def zones(self, available: list[str]) -> list[Zone]:
        """The first ``zone_count`` zones of the region, each with a public and a private /20."""
        if len(available) < self.zone_count:
            raise ValueError(f"{self.region} has {len(available)} availability zones; {self.zone_count} are needed")
        blocks = list(ipaddress.ip_network(self.vpc_cidr).subnets(new_prefix=20))
        if len(blocks) < 2 * self.zone_count:
            raise ValueError(f"vpc_cidr {self.vpc_cidr} is too small: it needs {2 * self.zone_count} /20 subnets")
        return [
            Zone(zone, str(blocks[i]), str(blocks[self.zone_count + i]))
            for i, zone in enumerate(sorted(available)[: self.zone_count])
        ]

    def tags(self, role: str) -> dict[str, str]:
        return {
            MANAGED_BY_TAG: "threeport",
            INFRA_TAG: self.infra,
            UID_TAG: self.uid,
            ROLE_TAG: role,
            "Name": self.resource(role),
        }

    def tag_list(self, role: str) -> list[dict[str, str]]:
        return [{"Key": key, "Value": value} for key, value in self.tags(role).items()]

    def resource(self, role: str) -> str:
        """The deterministic name of one resource (IAM roles, security groups, node groups)."""
        return f"{self.name}-{role}"[:63]

    @property
    def request_token(self) -> str:
        """The client request token of the cluster's creates (idempotent for 24 hours)."""
        return f"{self.uid}-{self.name}"[:64]


def plan_of(infra: cluster_infra_pb2.ClusterInfra, region: str) -> Plan:
    suffix = infra.uid.replace("-", "")[:8]
    stem = f"tp-{last_segment(infra.name)}"[: 40 - len(suffix) - 1].rstrip("-")
    spec = infra.spec
    return Plan(
        name=f"{stem}-{suffix}",
        uid=infra.uid,
        infra=infra.name,
        region=region,
        version=spec.kubernetes_version or DEFAULT_VERSION,
        vpc_cidr=spec.vpc_cidr or DEFAULT_CIDR,
        zone_count=3 if spec.high_availability else 2,
        node_groups=tuple(spec.node_groups),
    )
