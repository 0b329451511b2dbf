"""Authorization from the proto annotations: each RPC's ``policy`` option says who may call it.

Rules (DESIGN §6): viewer < deployer < admin per project; ``operator`` is global and implies
everything; ``ROLE_SERVICE`` and ``internal`` methods admit only service callers; services are
trusted for every method. The project comes from the request's ``name`` or ``parent``
(``projects/{project}/...``); a project role on a request without a project needs operator.
Methods without a policy are denied.
"""

from __future__ import annotations

import functools
from typing import Any

from google.protobuf import descriptor_pool

from threeport.common.v1alpha1 import annotations_pb2
from threeport_runtime.errors import PermissionDenied
from threeport_runtime.rpc.identity import Caller

_PROJECT_ROLES = (annotations_pb2.ROLE_VIEWER, annotations_pb2.ROLE_DEPLOYER, annotations_pb2.ROLE_ADMIN)


@functools.cache
def method_policy(full_method: str) -> annotations_pb2.MethodPolicy | None:
    """The policy of ``/package.Service/Method``; None for unknown or unannotated methods."""
    service_name, _, method_name = full_method.lstrip("/").partition("/")
    try:
        service = descriptor_pool.Default().FindServiceByName(service_name)
    except KeyError:
        return None
    method = service.methods_by_name.get(method_name)
    if method is None:
        return None
    options = method.GetOptions()
    if not options.HasExtension(annotations_pb2.policy):
        return None
    policy: annotations_pb2.MethodPolicy = options.Extensions[annotations_pb2.policy]
    return policy


def request_project(request: Any) -> str:
    """``projects/acme`` from the request's ``name``, ``parent`` or resource's name; else ''."""
    candidates: list[str] = []
    if request is not None:
        fields = request.DESCRIPTOR.fields_by_name
        for field in ("name", "parent"):
            if field in fields:
                candidates.append(getattr(request, field))
        for field in request.DESCRIPTOR.fields:
            is_resource = field.message_type is not None and "name" in field.message_type.fields_by_name
            if is_resource and not field.is_repeated and request.HasField(field.name):
                candidates.append(getattr(request, field.name).name)
    for candidate in candidates:
        parts = candidate.split("/")
        if len(parts) >= 2 and parts[0] == "projects" and parts[1]:
            return f"projects/{parts[1]}"
    return ""


def authorize(caller: Caller, policy: annotations_pb2.MethodPolicy | None, request: Any, method: str) -> None:
    """Raises PermissionDenied unless ``caller`` may call ``method`` with ``request``."""
    if policy is None or policy.role == annotations_pb2.ROLE_UNSPECIFIED:
        raise PermissionDenied(f"{method} has no access policy, so nobody may call it")
    if caller.is_service:
        return
    if policy.internal or policy.role == annotations_pb2.ROLE_SERVICE:
        raise PermissionDenied(f"{method} is internal to Threeport services")
    if policy.role == annotations_pb2.ROLE_AUTHENTICATED or caller.is_operator:
        return
    needed = annotations_pb2.Role.Name(policy.role).removeprefix("ROLE_").lower()
    if policy.role == annotations_pb2.ROLE_OPERATOR:
        raise PermissionDenied(f"{method} needs the operator role; {caller.principal} does not have it")
    project = request_project(request)
    if not project:
        raise PermissionDenied(f"{method} without a project needs the operator role")
    if policy.role in _PROJECT_ROLES and any(
        g.project == project and g.role in _PROJECT_ROLES and g.role >= policy.role for g in caller.grants
    ):
        return
    raise PermissionDenied(
        f"{caller.principal} needs the {needed} role on {project} to call {method}; ask a project admin"
    )
