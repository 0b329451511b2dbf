"""Validation of the operator-owned profiles: ClusterProfile, ServiceClass and AddonProfile.

Decisions:

- ClusterProfile: ``provider`` empty means ``sim``; ``location`` is required for ``eks`` (it
  picks the AWS region) and optional otherwise; ``node_size`` empty means ``medium``;
  ``min_nodes``/``max_nodes`` 0 mean the defaults (1 and ``max(min_nodes, 3)``), at most
  ``MAX_NODES``; ``kubernetes_version`` is ``1.N`` or ``1.N.P``.
- ServiceClass: ``class`` is required (a class name or ``*``); ``implementation`` is a
  DNS-1123 label such as ``aws-rds``, ``local`` or ``ingress-nginx``. A scope's environment must
  belong to its project when both are set.
- AddonProfile: ``type`` must be a cluster-service type; ``addon`` is ``addons/{addon}``.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from threeport.common.v1alpha1 import retain_policy_pb2
from threeport.registry.v1alpha1 import (
    addon_profile_pb2,
    cluster_profile_pb2,
    environment_pb2,
    service_class_pb2,
)
from threeport_model import names
from threeport_model.dependency_types import CLUSTER_SERVICE_TYPES, profiled_types
from threeport_model.locations import check_location
from threeport_registry.domain import field_paths as fp
from threeport_registry.domain.environment import environment_type_names
from threeport_registry.domain.metadata import validate_labels, validate_metadata
from threeport_runtime.errors import FieldViolation

PROVIDERS = ("sim", "eks", "kind")
NODE_SIZES = ("small", "medium", "large")
MAX_NODES = 1000
ANY_CLASS = "*"
_KUBERNETES_VERSION = re.compile(r"1\.[0-9]{1,2}(\.[0-9]{1,3})?")


def service_class_class(spec: service_class_pb2.ServiceClassSpec) -> str:
    """The spec's ``class`` (a Python keyword, hence the indirection)."""
    value: str = getattr(spec, "class")
    return value


def validate_cluster_profile(
    profile: cluster_profile_pb2.ClusterProfile,
    *,
    cluster_profile_id: str | None = None,
    path: str = "cluster_profile",
) -> list[FieldViolation]:
    violations = fp.Violations()
    if cluster_profile_id is not None and (error := names.check_id(cluster_profile_id)):
        violations.add("cluster_profile_id", error)
    validate_metadata(profile.labels, profile.annotations, path, violations)
    spec, at = profile.spec, fp.child(path, "spec")
    if spec.provider and spec.provider not in PROVIDERS:
        violations.add(
            fp.child(at, "provider"),
            f"unknown provider {spec.provider!r}; use one of {', '.join(PROVIDERS)} (empty means sim)",
        )
    if spec.location:
        if error := check_location(spec.location):
            violations.add(fp.child(at, "location"), error)
    elif spec.provider == "eks":
        violations.add(fp.child(at, "location"), "is required for provider eks (it picks the AWS region)")
    if spec.node_size and spec.node_size not in NODE_SIZES:
        violations.add(
            fp.child(at, "node_size"),
            f"unknown node size {spec.node_size!r}; use one of {', '.join(NODE_SIZES)}",
        )
    for field_name in ("min_nodes", "max_nodes"):
        value = getattr(spec, field_name)
        if not 0 <= value <= MAX_NODES:
            violations.add(
                fp.child(at, field_name), f"{value} is out of range: use 0-{MAX_NODES} (0 means the default)"
            )
    if spec.min_nodes and spec.max_nodes and spec.max_nodes < spec.min_nodes:
        violations.add(
            fp.child(at, "max_nodes"), f"max_nodes {spec.max_nodes} is below min_nodes {spec.min_nodes}"
        )
    if spec.kubernetes_version and not _KUBERNETES_VERSION.fullmatch(spec.kubernetes_version):
        violations.add(
            fp.child(at, "kubernetes_version"),
            f"{spec.kubernetes_version!r} is not a Kubernetes version: use 1.N or 1.N.P, e.g. 1.32",
        )
    if spec.account and (error := names.check_resource_name(spec.account, "accounts")):
        violations.add(fp.child(at, "account"), error)
    validate_labels(spec.cluster_labels, fp.child(at, "cluster_labels"), violations)
    _check_retain_policy(spec.retain_policy, fp.child(at, "retain_policy"), violations)
    return violations.as_list()


def validate_service_class(
    service_class: service_class_pb2.ServiceClass,
    *,
    service_class_id: str | None = None,
    path: str = "service_class",
) -> list[FieldViolation]:
    violations = fp.Violations()
    if service_class_id is not None and (error := names.check_id(service_class_id)):
        violations.add("service_class_id", error)
    validate_metadata(service_class.labels, service_class.annotations, path, violations)
    spec, at = service_class.spec, fp.child(path, "spec")
    _check_type(spec.type, profiled_types(), fp.child(at, "type"), violations)
    class_name = service_class_class(spec)
    if class_name != ANY_CLASS and (error := names.check_id(class_name)):
        violations.add(fp.child(at, "class"), f"use a class name or '*' for every class: {error}")
    if error := names.check_id(spec.implementation):
        violations.add(
            fp.child(at, "implementation"),
            f"an implementation such as aws-rds, local or ingress-nginx: {error}",
        )
    _validate_scope(spec.scope, fp.child(at, "scope"), violations)
    if spec.account and (error := names.check_resource_name(spec.account, "accounts")):
        violations.add(fp.child(at, "account"), error)
    _check_retain_policy(spec.retain_policy, fp.child(at, "retain_policy"), violations)
    return violations.as_list()


def validate_addon_profile(
    profile: addon_profile_pb2.AddonProfile,
    *,
    addon_profile_id: str | None = None,
    path: str = "addon_profile",
    provided: Collection[str] = (),
) -> list[FieldViolation]:
    """``provided``: the types the addon catalog adds, which a profile may configure too."""
    violations = fp.Violations()
    if addon_profile_id is not None and (error := names.check_id(addon_profile_id)):
        violations.add("addon_profile_id", error)
    validate_metadata(profile.labels, profile.annotations, path, violations)
    spec, at = profile.spec, fp.child(path, "spec")
    _check_type(spec.type, sorted(set(CLUSTER_SERVICE_TYPES) | set(provided)), fp.child(at, "type"), violations)
    if error := names.check_resource_name(spec.addon, "addons"):
        violations.add(fp.child(at, "addon"), error)
    if spec.version and (len(spec.version) > 128 or any(c.isspace() for c in spec.version)):
        violations.add(
            fp.child(at, "version"), f"{spec.version!r} is not a version: at most 128 characters, no spaces"
        )
    _validate_scope(spec.scope, fp.child(at, "scope"), violations)
    return violations.as_list()


def _check_type(type_name: str, allowed: list[str], at: str, violations: fp.Violations) -> None:
    if type_name not in allowed:
        shown = f"unknown type {type_name!r}" if type_name else "is required"
        violations.add(at, f"{shown}; use one of {', '.join(allowed)}")


def _validate_scope(scope: service_class_pb2.ServiceClassScope, at: str, violations: fp.Violations) -> None:
    if scope.project and (error := names.check_resource_name(scope.project, "projects")):
        violations.add(fp.child(at, "project"), error)
    if scope.environment:
        parsed = names.parse_environment_name(scope.environment)
        if parsed is None:
            violations.add(
                fp.child(at, "environment"),
                f"{scope.environment!r} is not an environment name: use projects/PROJECT/environments/ID",
            )
        elif scope.project and scope.project != f"projects/{parsed[0]}":
            violations.add(
                fp.child(at, "environment"),
                f"{scope.environment!r} is not in the scope's project {scope.project!r}",
            )
    if scope.environment_type not in environment_pb2.EnvironmentType.values():
        violations.add(
            fp.child(at, "environment_type"),
            f"unknown environment type {scope.environment_type}; use one of "
            f"{', '.join(environment_type_names())}",
        )


def _check_retain_policy(value: int, at: str, violations: fp.Violations) -> None:
    if value not in retain_policy_pb2.RetainPolicy.values():
        names_ = ", ".join(retain_policy_pb2.RetainPolicy.keys())
        violations.add(at, f"unknown retain policy {value}; use one of {names_}")
