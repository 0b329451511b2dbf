"""Namespace templates and the rules that keep one project out of another's namespaces.

A template may contain only the placeholders ``{project}``, ``{application}`` and
``{environment}`` and literal lowercase letters, digits and ``-``, and it must contain
``{project}`` (a namespace shared across projects would be a way into another tenant's
workloads). The registry checks templates when environments are written (``check_template``);
workload-delivery renders a deployment's namespace (``namespace_for``).

Rendered names are unambiguous: a name is used as rendered when reading it back with the
template gives exactly one set of names (``acme-ledger-dev``); when it could also be read as other
names (``a`` + ``x-y`` and ``a-x`` + ``y`` both give ``a-x-y-dev``), a short hash of the names is
appended (``a-x-y-dev-3f2a9c1b``), so two deployments never derive the same namespace by
accident. Names that were unambiguous keep their old spelling. Naming avoids collisions; the
ownership record workload-delivery keeps per (cluster, namespace) is what enforces them.

System namespaces (``kube-*``, ``default``, the platform's own and those the built-in addons
install into) are never a deployment's.
"""

from __future__ import annotations

import hashlib
import re

from threeport_model import names

DEFAULT_TEMPLATE = "{project}-{application}-{environment}"
PLACEHOLDERS = ("project", "application", "environment")
_TOKEN = re.compile(r"\{([^{}]*)\}")
_LITERAL = re.compile(r"[a-z0-9-]*")
HASH_LENGTH = 8

# Namespaces no deployment may use: Kubernetes' own, the platform's (the Helm chart installs the
# control plane into ``threeport``; the cluster-manager onboards clusters with ``threeport-system``)
# and those of the addon-manager's built-in addons (a test checks this list against the catalog).
# Any other namespace that exists and is not the deployment's is refused when it is seen.
SYSTEM_NAMESPACES = frozenset({
    "default", "kube-system", "kube-public", "kube-node-lease", "threeport", "threeport-system",
    "cert-manager", "dev-services", "external-dns", "external-secrets", "ingress-nginx", "logging", "monitoring",
})
SYSTEM_PREFIXES = ("kube-", "threeport-")


class NamespaceError(ValueError):
    """The namespace (given or rendered) cannot be a deployment's."""


def system_namespace(namespace: str) -> bool:
    return namespace in SYSTEM_NAMESPACES or namespace.startswith(SYSTEM_PREFIXES)


def _system_rule() -> str:
    return (f"{', '.join(sorted(SYSTEM_NAMESPACES))} and names starting with "
            f"{' or '.join(repr(p) for p in SYSTEM_PREFIXES)} are reserved for the system")


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
    if "{project}" not in template:
        return (f"{template!r} must contain {{project}}: each project's namespaces are its own "
                "(e.g. {project}-{application}-{environment})")
    # With the shortest possible names the result must already be a label (no leading '-', ...).
    sample = _TOKEN.sub("a", template)
    if names.check_id(sample) is not None:
        return (
            f"{template!r} does not give a valid namespace (e.g. {sample!r}): the result must start with a "
            "letter, end with a letter or digit and be at most 63 characters"
        )
    if system_namespace(sample):
        return f"{template!r} gives system namespaces (e.g. {sample!r}): {_system_rule()}"
    return None


def _tokens(template: str) -> list[tuple[bool, str]]:
    """(is a placeholder, text) in order."""
    found: list[tuple[bool, str]] = []
    at = 0
    for match in _TOKEN.finditer(template):
        if match.start() > at:
            found.append((False, template[at:match.start()]))
        found.append((True, match[1]))
        at = match.end()
    if at < len(template):
        found.append((False, template[at:]))
    return found


# Reading a name back is a search; beyond this many steps the name counts as ambiguous (and gets
# the hash), which keeps every spelling without a hash provably unique and the cost bounded.
READING_BUDGET = 5000


def _readings(tokens: list[tuple[bool, str]], text: str, limit: int) -> int:
    """How many ways (up to ``limit``) ``text`` reads as the template with ids for placeholders;
    ``limit`` when the search runs out of budget."""
    steps = 0

    class OutOfBudget(Exception):
        pass

    def count(index: int, at: int, bound: dict[str, str]) -> int:
        nonlocal steps
        steps += 1
        if steps > READING_BUDGET:
            raise OutOfBudget
        if index == len(tokens):
            return 1 if at == len(text) else 0
        placeholder, value = tokens[index]
        if not placeholder:
            return count(index + 1, at + len(value), bound) if text.startswith(value, at) else 0
        if value in bound:
            known = bound[value]
            return count(index + 1, at + len(known), bound) if text.startswith(known, at) else 0
        total = 0
        for end in range(at + 1, min(len(text), at + names.MAX_LABEL_LENGTH) + 1):
            candidate = text[at:end]
            if names.is_dns_label(candidate):
                total += count(index + 1, end, {**bound, value: candidate})
                if total >= limit:
                    break
        return total

    try:
        return count(0, 0, {})
    except OutOfBudget:
        return limit


def earlier_spelling(template: str, *, project: str, application: str, environment: str) -> str:
    """The name these names rendered to before ambiguous names got a hash (the plain rendering).

    A deployment already running there may keep it as long as it holds it (workload-delivery's
    record decides), so upgrading moves nothing that runs."""
    values = {"project": project, "application": application, "environment": environment}
    return _TOKEN.sub(lambda m: values.get(m[1], m[0]), template or DEFAULT_TEMPLATE)


def render_namespace(template: str, *, project: str, application: str, environment: str) -> str:
    """The namespace for these names (the default template when ``template`` is empty).

    Raises NamespaceError when the result is not a DNS-1123 label (e.g. too long) or is a system
    namespace."""
    template = template or DEFAULT_TEMPLATE
    values = {"project": project, "application": application, "environment": environment}
    rendered = earlier_spelling(template, **values)
    if len(rendered) <= names.MAX_LABEL_LENGTH and _readings(_tokens(template), rendered, limit=2) != 1:
        used = [values[p] for p in PLACEHOLDERS if "{" + p + "}" in template]
        digest = hashlib.sha256("\x00".join(used).encode()).hexdigest()[:HASH_LENGTH]
        rendered = f"{rendered}-{digest}"
    if not names.is_dns_label(rendered):
        raise NamespaceError(
            f"the namespace {rendered!r} is not a DNS-1123 label (at most 63 lowercase letters, digits "
            "and '-'); set spec.namespace on the deployment or change the environment's namespace_template"
        )
    if system_namespace(rendered):
        raise NamespaceError(f"the namespace {rendered!r} is a system namespace ({_system_rule()}); "
                             "set spec.namespace on the deployment or change the environment's namespace_template")
    return rendered


def check_explicit(namespace: str, project: str) -> str | None:
    """Whether a deployment of ``project`` may ask for this namespace by name; the problem if not.

    It must be a label starting with ``<project>-`` (another project's names start with theirs)
    and not a system namespace."""
    if not names.is_dns_label(namespace):
        return f"{namespace!r} is not a DNS-1123 label ({names.ID_RULE})"
    if not namespace.startswith(f"{project}-"):
        return f"{namespace!r} must start with the project's name and '-' ({project}-...)"
    if system_namespace(namespace):
        return f"{namespace!r} is a system namespace: {_system_rule()}"
    return None


def namespace_for(explicit: str, template: str, *, project: str, application: str, environment: str) -> str:
    """A deployment's namespace: its own ``spec.namespace`` if set, else the rendered template."""
    if explicit:
        if problem := check_explicit(explicit, project):
            raise NamespaceError(f"spec.namespace {problem}")
        return explicit
    if template and (problem := check_template(template)):
        raise NamespaceError(f"the environment's namespace_template: {problem}")
    return render_namespace(template, project=project, application=application, environment=environment)


def namespace_keeping_earlier(
    explicit: str, template: str, current: str, *, project: str, application: str, environment: str
) -> tuple[str, str]:
    """(the namespace to use, the one to use instead if that is not the deployment's to keep).

    A deployment running in the earlier spelling of its derived name (``current``, from its
    status) keeps it; workload-delivery falls back to the derived name if its record shows the
    earlier one is someone else's."""
    derived = namespace_for(explicit, template, project=project, application=application, environment=environment)
    if explicit:
        return derived, ""
    earlier = earlier_spelling(template, project=project, application=application, environment=environment)
    if current and current == earlier != derived and names.is_dns_label(earlier) and not system_namespace(earlier):
        return earlier, derived
    return derived, ""

