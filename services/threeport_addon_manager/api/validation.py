"""Request rules: the catalog entry's own rules (``domain.catalog``), then its values schema
(a valid JSON schema, which the default values satisfy), installations and claims."""

from __future__ import annotations

import jsonschema
from google.protobuf import json_format

from threeport.addons.v1alpha1 import addon_claim_pb2, addon_installation_pb2, addon_pb2
from threeport_addon_manager.domain.catalog import addon_violations
from threeport_model import cloud_access, names
from threeport_runtime.errors import FieldViolation, InvalidArgument


def check_addon(addon: addon_pb2.Addon) -> None:
    violations = addon_violations(addon)
    purpose = addon.spec.cloud_access.purpose
    if addon.spec.HasField("cloud_access") and (error := cloud_access.check_purpose(purpose)):
        violations.append(FieldViolation("addon.spec.cloud_access.purpose", error))
    if addon.spec.HasField("values_schema"):
        schema = json_format.MessageToDict(addon.spec.values_schema)
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as error:
            violations.append(FieldViolation("addon.spec.values_schema", f"not a valid JSON schema: {error.message}"))
        else:
            defaults = json_format.MessageToDict(addon.spec.default_values)
            for problem in jsonschema.Draft202012Validator(schema).iter_errors(defaults):
                where = ".".join(str(p) for p in problem.path)
                violations.append(
                    FieldViolation("addon.spec.default_values" + (f".{where}" if where else ""), problem.message)
                )
    if violations:
        raise InvalidArgument.for_fields(violations)


def check_installation(installation: addon_installation_pb2.AddonInstallation) -> None:
    violations: list[FieldViolation] = []
    at = "addon_installation.spec"
    if error := names.check_resource_name(installation.spec.addon, "addons"):
        violations.append(FieldViolation(f"{at}.addon", error))
    if error := names.check_resource_name(installation.spec.cluster, "clusters"):
        violations.append(FieldViolation(f"{at}.cluster", error))
    if violations:
        raise InvalidArgument.for_fields(violations)


def check_claim(claim: addon_claim_pb2.AddonClaim) -> None:
    violations: list[FieldViolation] = []
    at = "addon_claim.spec"
    if not claim.spec.owner:
        violations.append(FieldViolation(f"{at}.owner", "required: the consumer, e.g. projects/acme/deployments/x"))
    if not names.is_dns_label(claim.spec.type):
        violations.append(FieldViolation(f"{at}.type", "the dependency type, a lowercase word such as ingress"))
    if error := names.check_resource_name(claim.spec.cluster, "clusters"):
        violations.append(FieldViolation(f"{at}.cluster", error))
    if claim.spec.addon and (error := names.check_resource_name(claim.spec.addon, "addons")):
        violations.append(FieldViolation(f"{at}.addon", error))
    if violations:
        raise InvalidArgument.for_fields(violations)
