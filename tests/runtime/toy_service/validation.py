"""Pure input rules of the toy service (no I/O), reported as field violations."""

from __future__ import annotations

from threeport.registry.v1alpha1 import application_pb2
from threeport_model.names import is_dns_label, parse_resource_name
from threeport_runtime.errors import FieldViolation, InvalidArgument


def check_parent_and_id(parent: str, application_id: str) -> None:
    violations = []
    if parse_resource_name(parent, "projects") is None:
        violations.append(FieldViolation("parent", "must be projects/{project}, e.g. projects/acme"))
    if not is_dns_label(application_id):
        violations.append(
            FieldViolation("application_id", "must be a DNS-1123 label: lowercase letters, digits and '-'")
        )
    if violations:
        raise InvalidArgument.for_fields(violations)


def check_application(application: application_pb2.Application) -> None:
    violations = []
    if not application.spec.components:
        violations.append(FieldViolation("application.spec.components", "declare at least one component"))
    for name, component in application.spec.components.items():
        if not is_dns_label(name):
            violations.append(FieldViolation(f"application.spec.components[{name}]", "name must be a DNS-1123 label"))
        if not component.image:
            violations.append(
                FieldViolation(f"application.spec.components[{name}].image", "set the container image to run")
            )
    if violations:
        raise InvalidArgument.for_fields(violations)
