"""The rules for component overrides (an Environment's or a Deployment's ``spec.overrides``),
shared by the registry (environments) and workload-delivery (deployments), which merges them.

``shape_violations`` checks the entries alone; ``component_violations`` checks one entry against
the application it names (the component exists, env references name declared dependencies).
Both return ``(field path, what is wrong)`` pairs; the callers turn them into INVALID_ARGUMENT.
"""

from __future__ import annotations

from collections.abc import Sequence

from threeport.registry.v1alpha1 import application_pb2, environment_pb2
from threeport_model import names, quantities, references

Violation = tuple[str, str]


def shape_violations(
    overrides: Sequence[environment_pb2.ComponentOverride], at: str, *, application: str | None = None
) -> list[Violation]:
    """Every problem of the entries by themselves. ``application`` is the deployment's application
    (an entry then names it or leaves it empty); None for an environment (an entry must name one)."""
    found: list[Violation] = []
    seen: dict[tuple[str, str], int] = {}
    for position, override in enumerate(overrides):
        entry = f"{at}[{position}]"
        if application is None:
            if error := names.check_id(override.application):
                found.append((f"{entry}.application", f"an application id: {error}"))
        elif override.application not in ("", application):
            found.append((f"{entry}.application",
                          f"a deployment of {application!r} can only override {application!r}; leave it empty"))
        if error := names.check_id(override.component):
            found.append((f"{entry}.component", f"a component name: {error}"))
        key = (override.application or application or "", override.component)
        if key in seen:
            found.append((entry, f"{key[0]}/{key[1]} is already overridden by entry {seen[key]}; "
                                 "merge the two entries"))
        seen.setdefault(key, position)
        if override.HasField("replicas") and override.replicas < 1:
            found.append((f"{entry}.replicas", f"must be at least 1, not {override.replicas}"))
        for env_name in sorted(override.env):
            if error := names.check_env_var_name(env_name):
                found.append((f"{entry}.env[{env_name}]", error))
        for path, text in (("cpu", override.resources.cpu), ("limits.cpu", override.resources.limits.cpu)):
            if text and (error := quantities.check_cpu(text)):
                found.append((f"{entry}.resources.{path}", error))
        for path, text in (("memory", override.resources.memory),
                           ("limits.memory", override.resources.limits.memory)):
            if text and (error := quantities.check_bytes(text, "memory")):
                found.append((f"{entry}.resources.{path}", error))
    return found


def component_violations(
    override: environment_pb2.ComponentOverride, at: str, application: str, spec: application_pb2.ApplicationSpec
) -> list[Violation]:
    """Problems of one entry against the application it overrides (``at`` is the entry's path)."""
    if override.component not in spec.components:
        known = ", ".join(sorted(spec.components)) or "none"
        return [(f"{at}.component",
                 f"application {application!r} has no component {override.component!r}; its components: {known}")]
    found: list[Violation] = []
    for env_name in sorted(override.env):
        scanned = references.scan(override.env[env_name])
        for bad in scanned.malformed:
            found.append((f"{at}.env[{env_name}]", f"{bad.text!r} {bad.reason}"))
        for reference in scanned.references:
            if reference.dependency not in spec.dependencies:
                declared = ", ".join(sorted(spec.dependencies)) or "none"
                found.append((f"{at}.env[{env_name}]",
                              f"{reference} refers to a dependency {application!r} does not declare; "
                              f"declared: {declared}"))
    return found
