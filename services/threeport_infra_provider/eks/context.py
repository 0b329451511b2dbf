"""What every EKS step works with: the plan, the zones, boto3 clients of one account and
region, and the ids found or created by the steps before it. Steps are blocking (boto3); the
builder runs each in a worker thread."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from threeport_infra_provider.eks.plan import ROLE_TAG, UID_TAG, Plan, Zone


@dataclass
class StepContext:
    plan: Plan
    zones: list[Zone]
    ec2: Any
    iam: Any
    eks: Any
    ids: dict[str, str] = field(default_factory=dict)

    def tag_filters(self, role: str) -> list[dict[str, Any]]:
        """EC2 filters finding the resource this ClusterInfra made for ``role``."""
        return [
            {"Name": f"tag:{UID_TAG}", "Values": [self.plan.uid]},
            {"Name": f"tag:{ROLE_TAG}", "Values": [role]},
        ]

    def tag_spec(self, resource_type: str, role: str, extra: dict[str, str] | None = None) -> list[dict[str, Any]]:
        tags = self.plan.tag_list(role) + [{"Key": k, "Value": v} for k, v in (extra or {}).items()]
        return [{"ResourceType": resource_type, "Tags": tags}]
