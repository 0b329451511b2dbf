"""What makes a catalog entry (``kind: Addon``) valid.

The checks here are the ones that need no library: names, installers, versions, pinned charts,
``provides``/``requires`` and output names. The JSON-schema check of the default values is the
API layer's (``api/validation.py``), which calls these first.
"""

from __future__ import annotations

import re

from threeport.addons.v1alpha1 import addon_pb2
from threeport_model import dependency_types, names
from threeport_runtime.errors import FieldViolation

INSTALLERS = ("helm", "manifests")
CHART_SCHEMES = ("http://", "https://", "oci://")
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
OUTPUT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
# A pinned chart version is one exact SemVer, never a range (`^1`, `~1.2`, `>=1`, `1.x`, `*`).
EXACT_VERSION = re.compile(r"v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?")


def addon_violations(addon: addon_pb2.Addon, path: str = "addon") -> list[FieldViolation]:
    """Every problem with the catalog entry, with the field that has it."""
    spec = addon.spec
    at = f"{path}.spec"
    found: list[FieldViolation] = []
    if spec.installer not in INSTALLERS:
        found.append(FieldViolation(f"{at}.installer", f"must be one of {', '.join(INSTALLERS)}"))
    if spec.category and not names.is_dns_label(spec.category):
        found.append(FieldViolation(f"{at}.category", "must be a lowercase word such as ingress or metrics"))
    if error := names.check_id(spec.namespace):
        found.append(FieldViolation(f"{at}.namespace", f"the namespace to install into: {error}"))
    found += _versions(spec, at)
    for index, type_name in enumerate(spec.provides):
        found += _provided_type(type_name, f"{at}.provides[{index}]")
    for index, required in enumerate(spec.requires):
        if error := names.check_resource_name(required, "addons"):
            found.append(FieldViolation(f"{at}.requires[{index}]", error))
        elif required == addon.name:
            found.append(FieldViolation(f"{at}.requires[{index}]", "an addon cannot require itself"))
    for field, outputs in (("outputs", spec.outputs), ("claim_outputs", spec.claim_outputs)):
        for output, template in outputs.items():
            if not OUTPUT_NAME.fullmatch(output):
                found.append(
                    FieldViolation(f"{at}.{field}", f"output name {output!r} must match {OUTPUT_NAME.pattern}")
                )
            elif not template.strip():
                found.append(FieldViolation(f"{at}.{field}.{output}", "must not be empty"))
    return found


def _versions(spec: addon_pb2.AddonSpec, at: str) -> list[FieldViolation]:
    if not spec.versions:
        return [FieldViolation(f"{at}.versions", "list at least one installable version")]
    found: list[FieldViolation] = []
    seen: set[str] = set()
    for index, version in enumerate(spec.versions):
        where = f"{at}.versions[{index}]"
        if not version.version:
            found.append(FieldViolation(f"{where}.version", "required, e.g. 1.11.2"))
        elif version.version in seen:
            found.append(FieldViolation(f"{where}.version", f"{version.version!r} is listed twice"))
        seen.add(version.version)
        if spec.installer == "manifests":
            if not version.manifests.strip():
                found.append(FieldViolation(f"{where}.manifests", "the manifests installer needs YAML documents"))
            if version.HasField("chart"):
                found.append(FieldViolation(f"{where}.chart", "only for the helm installer"))
        elif spec.installer == "helm":
            found += chart_violations(version.chart, f"{where}.chart")
            if version.manifests:
                found.append(FieldViolation(f"{where}.manifests", "only for the manifests installer"))
    if spec.default_version and spec.default_version not in seen:
        found.append(FieldViolation(f"{at}.default_version", f"must be one of the versions: {', '.join(sorted(seen))}"))
    return found


def chart_violations(chart: addon_pb2.HelmChart, at: str) -> list[FieldViolation]:
    """A chart must be pinned: an HTTP repository or OCI reference, a name and an exact version."""
    found: list[FieldViolation] = []
    if not chart.repository.startswith(CHART_SCHEMES):
        found.append(FieldViolation(f"{at}.repository", "an http(s):// chart repository or an oci:// reference"))
    if not chart.repository.startswith("oci://") and not chart.name:
        found.append(FieldViolation(f"{at}.name", "the chart's name in the repository"))
    if not EXACT_VERSION.fullmatch(chart.version):
        found.append(FieldViolation(f"{at}.version", "one exact chart version such as 1.2.3 (charts are pinned)"))
    if chart.plain_http and not chart.repository.startswith("oci://"):
        found.append(FieldViolation(f"{at}.plain_http", "only for oci:// registries (write http:// for a repository)"))
    if chart.digest and not DIGEST.fullmatch(chart.digest):
        found.append(FieldViolation(f"{at}.digest", "sha256: followed by 64 lowercase hex digits"))
    return found


def _provided_type(type_name: str, at: str) -> list[FieldViolation]:
    if not names.is_dns_label(type_name):
        return [FieldViolation(at, "a dependency type is a lowercase word such as ingress or kafka")]
    known = dependency_types.DEPENDENCY_TYPES.get(type_name)
    if known is not None and known.provided_by != "addon":
        return [FieldViolation(at, f"{type_name!r} is provided by the platform ({known.provided_by}), not by addons")]
    return []


def version_of(addon: addon_pb2.Addon, wanted: str = "") -> addon_pb2.AddonVersion | None:
    """The version to install: ``wanted``, else the default version, else the first (newest)."""
    choice = wanted or addon.spec.default_version
    if not choice:
        return addon.spec.versions[0] if addon.spec.versions else None
    return next((v for v in addon.spec.versions if v.version == choice), None)


def provided_types(addons: list[addon_pb2.Addon]) -> dict[str, list[str]]:
    """Each dependency type the catalog provides, with the addons that provide it (sorted)."""
    provided: dict[str, list[str]] = {}
    for addon in addons:
        if addon.HasField("delete_time"):
            continue
        for type_name in addon.spec.provides:
            provided.setdefault(type_name, []).append(addon.name)
    return {type_name: sorted(providers) for type_name, providers in sorted(provided.items())}


def choose_provider(catalog: list[addon_pb2.Addon], type_name: str) -> addon_pb2.Addon | None:
    """The addon a claim for ``type_name`` gets when its profile names none: the built-in entry
    when several provide the type, else the first operator entry by name."""
    providers = [a for a in catalog if type_name in a.spec.provides and not a.HasField("delete_time")]
    providers.sort(key=lambda a: (not a.status.system_default, a.name))
    return providers[0] if providers else None


def no_provider_message(catalog: list[addon_pb2.Addon], type_name: str) -> str:
    known = ", ".join(provided_types(catalog)) or "none"
    return f"no addon in the catalog provides {type_name!r} (provided: {known})"
