"""Namespace templates: ``{project}-{application}-{environment}`` and friends.

A template may contain only the placeholders ``{project}``, ``{application}`` and
``{environment}`` and literal lowercase letters, digits and ``-``. The rendered name must be a
DNS-1123 label (at most 63 characters); that can only be known once the names are known, so
``render_namespace`` checks it again.
"""

from __future__ import annotations

import re

from threeport_registry.domain import names
from threeport_runtime.errors import FieldViolation, InvalidArgument

DEFAULT_TEMPLATE = "{project}-{application}-{environment}"
PLACEHOLDERS = ("project", "application", "environment")
_TOKEN = re.compile(r"\{([^{}]*)\}")
_LITERAL = re.compile(r"[a-z0-9-]*")


def check_template(template: str) -> str | None:
    """Whether the template can render valid namespaces; a description of the problem if not."""
    allowed = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
    for match in _TOKEN.finditer(template):
        if match[1] not in PLACEHOLDERS:
            return f"unknown placeholder {match[0]!r}; use {allowed}"
    literal = _TOKEN.sub("", template)
    if not _LITERAL.fullmatch(literal):
        return (
            f"{template!r} may contain only {allowed} and lowercase letters, digits and '-' "
            "(braces only around a placeholder)"
        )
    # With the shortest possible names the result must already be a label (no leading '-', ...).
    sample = _TOKEN.sub("a", template)
    if names.check_id(sample) is not None:
        return (
            f"{template!r} does not give a valid namespace (e.g. {sample!r}): the result must start with a "
            "letter, end with a letter or digit and be at most 63 characters"
        )
    return None


def render_namespace(template: str, *, project: str, application: str, environment: str) -> str:
    """The namespace for these names; INVALID_ARGUMENT if the result is not a DNS-1123 label."""
    values = {"project": project, "application": application, "environment": environment}
    rendered = _TOKEN.sub(lambda m: values[m[1]], template or DEFAULT_TEMPLATE)
    if error := names.check_id(rendered):
        raise InvalidArgument.for_fields(
            [FieldViolation("environment.spec.namespace_template", f"the namespace {error}")]
        )
    return rendered
