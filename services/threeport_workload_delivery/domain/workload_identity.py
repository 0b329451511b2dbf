"""Workload identity on the ServiceAccounts delivery renders: a component whose env uses a
bucket that has an IAM role for its workloads (output ``role_arn``, made by the infra-provider
on EKS clusters it built) gets ``eks.amazonaws.com/role-arn`` on its ServiceAccount, so EKS's
pod identity webhook hands its pods credentials for that role.

A ServiceAccount carries one role: when a component uses several such buckets, it gets the role
of the first by dependency name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from threeport_model import references

ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"


class Published(Protocol):
    """What a dependency published (``rendering.DependencyOutputs``)."""

    @property
    def type(self) -> str: ...

    @property
    def values(self) -> Mapping[str, str]: ...


def service_account_annotations(env: Mapping[str, str], dependencies: Mapping[str, Published]) -> dict[str, str]:
    used = sorted({ref.dependency for value in env.values() for ref in references.scan(value).references})
    for dependency in used:
        outputs = dependencies.get(dependency)
        if outputs is not None and outputs.type == "bucket" and outputs.values.get("role_arn"):
            return {ROLE_ANNOTATION: outputs.values["role_arn"]}
    return {}
