"""Validation of the gateway's resources: what a user may write into their specs.

Each check returns field violations (paths as in the request) so that one INVALID_ARGUMENT
can list every problem at once; an empty list means the resource is fine.
"""

from __future__ import annotations

from threeport.common.v1alpha1 import annotations_pb2
from threeport.gateway.v1alpha1 import principal_pb2, project_pb2, role_binding_pb2
from threeport_api_gateway.domain.names import check_name
from threeport_runtime.errors import FieldViolation

_DISPLAY_NAME_LIMIT = 200
_DESCRIPTION_LIMIT = 2000
PROJECT_ROLES = (annotations_pb2.ROLE_VIEWER, annotations_pb2.ROLE_DEPLOYER, annotations_pb2.ROLE_ADMIN)
BINDABLE_ROLES = (*PROJECT_ROLES, annotations_pb2.ROLE_OPERATOR)


def project(resource: project_pb2.Project, field: str = "project") -> list[FieldViolation]:
    violations = []
    if len(resource.spec.display_name) > _DISPLAY_NAME_LIMIT:
        violations.append(
            FieldViolation(f"{field}.spec.display_name", f"must be at most {_DISPLAY_NAME_LIMIT} characters")
        )
    if len(resource.spec.description) > _DESCRIPTION_LIMIT:
        violations.append(
            FieldViolation(f"{field}.spec.description", f"must be at most {_DESCRIPTION_LIMIT} characters")
        )
    return violations


def principal(resource: principal_pb2.Principal, field: str = "principal") -> list[FieldViolation]:
    violations = []
    spec = resource.spec
    if len(spec.display_name) > _DISPLAY_NAME_LIMIT:
        violations.append(
            FieldViolation(f"{field}.spec.display_name", f"must be at most {_DISPLAY_NAME_LIMIT} characters")
        )
    if spec.email and ("@" not in spec.email or spec.email.startswith("@") or spec.email.endswith("@")):
        violations.append(FieldViolation(f"{field}.spec.email", f"{spec.email!r} is not an email address"))
    if spec.type not in principal_pb2.PrincipalType.values():
        violations.append(FieldViolation(f"{field}.spec.type", "must be USER or SERVICE_ACCOUNT"))
    return violations


def role_binding(resource: role_binding_pb2.RoleBinding, field: str = "role_binding") -> list[FieldViolation]:
    """Shape only; whether the principal and project exist is checked against the store."""
    spec = resource.spec
    violations = check_name(f"{field}.spec.principal", spec.principal, "principals")
    if spec.role not in BINDABLE_ROLES:
        violations.append(
            FieldViolation(f"{field}.spec.role", "must be ROLE_VIEWER, ROLE_DEPLOYER, ROLE_ADMIN or ROLE_OPERATOR")
        )
    elif spec.role == annotations_pb2.ROLE_OPERATOR:
        if spec.project:
            violations.append(FieldViolation(f"{field}.spec.project", "must be empty: operator is a global role"))
    elif not spec.project:
        violations.append(
            FieldViolation(f"{field}.spec.project", "is required for viewer, deployer and admin, e.g. projects/acme")
        )
    else:
        violations.extend(check_name(f"{field}.spec.project", spec.project, "projects"))
    return violations
