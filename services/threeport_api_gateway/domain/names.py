"""Resource names and ids of the gateway's own resources (``projects/{project}``, ...)."""

from __future__ import annotations

from threeport_model.names import is_dns_label, parse_resource_name
from threeport_runtime.errors import FieldViolation


def check_id(field: str, value: str) -> list[FieldViolation]:
    """Violations of the DNS-1123 label rule for a ``*_id`` request field (empty when fine)."""
    if not value:
        return [FieldViolation(field, "is required: a DNS-1123 label such as 'team-a'")]
    if not is_dns_label(value):
        return [
            FieldViolation(
                field,
                f"{value!r} is not a DNS-1123 label: use lowercase letters, digits and '-', "
                "at most 63 characters, starting with a letter and not ending with '-'",
            )
        ]
    return []


def check_name(field: str, value: str, collection: str) -> list[FieldViolation]:
    """Violations for a name that must look like ``{collection}/{id}``."""
    if parse_resource_name(value, collection) is None:
        return [FieldViolation(field, f"must be a name like '{collection}/example', got {value!r}")]
    return []


def child_id(name: str) -> str:
    """The last segment of a resource name."""
    return name.rsplit("/", 1)[-1]
