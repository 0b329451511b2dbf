"""Refuses, at create and update, a ``spec.namespace`` the record shows another deployment owns
(FAILED_PRECONDITION, reason ``NAMESPACE_NOT_OWNED``; nothing written). Naming rules are checked
in ``api.validation``; the reconciler checks the record and the cluster again before every apply,
since a namespace derived from the environment's template is known only there."""

from __future__ import annotations

from threeport.delivery.v1alpha1 import deployment_pb2
from threeport_model import namespaces
from threeport_runtime.errors import FailedPrecondition
from threeport_workload_delivery.domain import names
from threeport_workload_delivery.store.namespaces import NamespaceClaims


async def check_namespace_free(claims: NamespaceClaims, name: str, spec: deployment_pb2.DeploymentSpec) -> None:
    parts = name.split("/")
    if len(parts) != 4 or parts[0] != "projects" or not spec.namespace:
        return  # a malformed name, or no namespace asked for: validation answers
    if namespaces.check_explicit(spec.namespace, parts[1]):
        return  # validation refuses it (INVALID_ARGUMENT) before this matters
    others = [owner for owner in await claims.owners(spec.namespace) if owner != name]
    if not others:
        return
    mine = [owner for owner in others if names.project_of(owner) == parts[1]]
    holder = f"is used by {mine[0]}" if mine else "belongs to another project"
    raise FailedPrecondition(
        f"deployment.spec.namespace: namespace {spec.namespace!r} {holder}; choose another namespace",
        reason="NAMESPACE_NOT_OWNED", metadata={"field": "deployment.spec.namespace"},
    )
