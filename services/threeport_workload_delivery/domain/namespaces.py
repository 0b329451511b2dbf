"""The namespace of a deployment: ``spec.namespace``, else the environment's template.

The template rendering is a copy of the registry's ``threeport_registry.domain.namespaces``
(which validates templates when environments are written); the two must agree on the
placeholders ``{project}``, ``{application}`` and ``{environment}`` and the default
``{project}-{application}-{environment}``.
"""

from __future__ import annotations

import re

DEFAULT_TEMPLATE = "{project}-{application}-{environment}"
_TOKEN = re.compile(r"\{(project|application|environment)\}")
_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")


class NamespaceError(ValueError):
    """The rendered namespace is not a DNS-1123 label."""


def render_namespace(template: str, *, project: str, application: str, environment: str) -> str:
    values = {"project": project, "application": application, "environment": environment}
    rendered = _TOKEN.sub(lambda m: values[m[1]], template or DEFAULT_TEMPLATE)
    if not _LABEL.match(rendered):
        raise NamespaceError(
            f"the namespace {rendered!r} is not a DNS-1123 label (at most 63 lowercase letters, digits "
            "and '-'); set spec.namespace on the deployment or change the environment's namespace_template"
        )
    return rendered


def namespace_for(
    explicit: str, template: str, *, project: str, application: str, environment: str
) -> str:
    if explicit:
        if not _LABEL.match(explicit):
            raise NamespaceError(f"spec.namespace {explicit!r} is not a DNS-1123 label")
        return explicit
    return render_namespace(template, project=project, application=application, environment=environment)
