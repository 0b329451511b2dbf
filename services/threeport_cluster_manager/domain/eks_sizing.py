"""What an EKS cluster is built with, from its ClusterProfile (pure).

| profile | EKS |
|---|---|
| ``node_profile`` | the instance type, as given (e.g. ``m7g.large``) |
| ``node_size`` (no node_profile) | ``small`` t3.medium, ``medium`` m6i.large, ``large`` m6i.2xlarge |
| ``min_nodes`` / ``max_nodes`` | the managed node group's scaling; it starts at ``min_nodes`` |
| ``high_availability`` | three availability zones instead of two, and at least three nodes |

Without a profile: two m6i.large nodes (1 to 3) over two zones.
"""

from __future__ import annotations

from threeport.infra.v1alpha1 import cluster_infra_pb2
from threeport.registry.v1alpha1 import cluster_profile_pb2

INSTANCE_TYPES = {"small": "t3.medium", "medium": "m6i.large", "large": "m6i.2xlarge"}
DEFAULT_NODE_GROUP = cluster_infra_pb2.NodeGroup(
    name="default", instance_type="m6i.large", min_size=1, max_size=3, desired_size=2
)


def node_layout(
    profile: cluster_profile_pb2.ClusterProfileSpec | None,
) -> tuple[cluster_infra_pb2.NodeGroup, bool]:
    """The node group and whether to spread over three zones."""
    if profile is None:
        return DEFAULT_NODE_GROUP, False
    ha = profile.high_availability
    low = max(profile.min_nodes, 3 if ha else 1)
    high = max(profile.max_nodes, low)
    group = cluster_infra_pb2.NodeGroup(
        name="default",
        instance_type=profile.node_profile or INSTANCE_TYPES.get(profile.node_size, INSTANCE_TYPES["medium"]),
        min_size=low,
        max_size=high,
        desired_size=low,
    )
    return group, ha
