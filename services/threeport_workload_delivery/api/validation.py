"""Checks of user input for deployments (INVALID_ARGUMENT with field violations; nothing written)."""

from __future__ import annotations

from threeport.delivery.v1alpha1 import deployment_pb2
from threeport_model import namespaces, overrides
from threeport_model.names import is_dns_label
from threeport_runtime.errors import FieldViolation, InvalidArgument

LABEL_RULE = "must be a DNS-1123 label (lowercase letters, digits and '-', starting with a letter)"


def id_violations(**ids: str) -> list[FieldViolation]:
    return [FieldViolation(field, LABEL_RULE if value else "is required")
            for field, value in ids.items() if not is_dns_label(value)]


def check_deployment(deployment: deployment_pb2.Deployment) -> None:
    spec = deployment.spec
    violations = id_violations(**{"deployment.spec.application": spec.application,
                                  "deployment.spec.environment": spec.environment})
    if spec.namespace and not is_dns_label(spec.namespace):
        violations.append(FieldViolation("deployment.spec.namespace", LABEL_RULE))
    elif spec.namespace and deployment.name.startswith("projects/"):
        project = deployment.name.split("/")[1]
        if problem := namespaces.check_explicit(spec.namespace, project):
            violations.append(FieldViolation("deployment.spec.namespace", problem))
    wanted = f"{spec.application}-{spec.environment}"
    if deployment.name and not violations and not deployment.name.endswith(f"/deployments/{wanted}"):
        violations.append(FieldViolation(
            "deployment.name", f"a deployment of {spec.application} to {spec.environment} must be named {wanted!r}"
        ))
    for component, image in spec.images.items():
        if not image.image:
            violations.append(FieldViolation(f"deployment.spec.images[{component}].image", "is required"))
        if image.digest and not image.digest.startswith("sha256:"):
            violations.append(FieldViolation(f"deployment.spec.images[{component}].digest", "must start with sha256:"))
    violations += [FieldViolation(path, problem) for path, problem in overrides.shape_violations(
        spec.overrides, "deployment.spec.overrides", application=spec.application)]
    if violations:
        raise InvalidArgument.for_fields(violations)
