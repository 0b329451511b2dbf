"""Namespace templates: ``{project}-{application}-{environment}`` and friends.

A template may contain only the placeholders ``{project}``, ``{application}`` and
``{environment}`` and literal lowercase letters, digits and ``-``. The registry checks templates
when environments are written (``check_template``); workload-delivery renders a deployment's
namespace (``namespace_for``). The rendered name must be a DNS-1123 label (at most 63
characters); that can only be known once the names are known, so ``render_namespace`` checks it
again.
"""

from __future__ import annotations

import re

from threeport_model import names

DEFAULT_TEMPLATE = "{project}-{application}-{environment}"
PLACEHOLDERS = ("project", "application", "environment")
_TOKEN = re.compile(r"\{([^{}]*)\}")
_LITERAL = re.compile(r"[a-z0-9-]*")


class NamespaceError(ValueError):
    """The namespace (given or rendered) is not a DNS-1123 label."""


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
    """The namespace for these names (the default template when ``template`` is empty).

    Raises NamespaceError when the result is not a DNS-1123 label (e.g. too long)."""
    values = {"project": project, "application": application, "environment": environment}
    rendered = _TOKEN.sub(lambda m: values.get(m[1], m[0]), template or DEFAULT_TEMPLATE)
    if not names.is_dns_label(rendered):
        raise NamespaceError(
            f"the namespace {rendered!r} is not a DNS-1123 label (at most 63 lowercase letters, digits "
            "and '-'); set spec.namespace on the deployment or change the environment's namespace_template"
        )
    return rendered


def namespace_for(explicit: str, template: str, *, project: str, application: str, environment: str) -> str:
    """A deployment's namespace: its own ``spec.namespace`` if set, else the rendered template."""
    if explicit:
        if not names.is_dns_label(explicit):
            raise NamespaceError(f"spec.namespace {explicit!r} is not a DNS-1123 label")
        return explicit
    return render_namespace(template, project=project, application=application, environment=environment)
