"""Validation of Environments: type, cluster choice, class overrides, auto-deploy rules, the
namespace template, the domain for default ingress hosts and the shape of component overrides
(``api.cross_checks`` checks them against the applications). ``validate_environment`` returns
every violation."""

from __future__ import annotations

from threeport.registry.v1alpha1 import environment_pb2
from threeport_model import names, namespaces, overrides
from threeport_model.dependency_types import DEPENDENCY_TYPES, known_types
from threeport_registry.domain import field_paths as fp
from threeport_registry.domain import git_refs, secret_refs
from threeport_registry.domain.metadata import validate_labels, validate_metadata
from threeport_runtime.errors import FieldViolation


def environment_type_names() -> list[str]:
    """The environment types users may name, e.g. ``ENVIRONMENT_TYPE_PRODUCTION``."""
    all_names = environment_pb2.EnvironmentType.keys()  # an enum wrapper, not a dict
    return [name for name in all_names if not name.endswith("UNSPECIFIED")]


def validate_environment(
    environment: environment_pb2.Environment, *, environment_id: str | None = None, path: str = "environment"
) -> list[FieldViolation]:
    """Every violation in the environment (and in ``environment_id``, when given)."""
    violations = fp.Violations()
    if environment_id is not None and (error := names.check_id(environment_id)):
        violations.add("environment_id", error)
    validate_metadata(environment.labels, environment.annotations, path, violations)
    spec = environment.spec
    at = fp.child(path, "spec")
    if spec.type not in environment_pb2.EnvironmentType.values():
        violations.add(
            fp.child(at, "type"),
            f"unknown environment type {spec.type}; use one of {', '.join(environment_type_names())}",
        )
    if spec.cluster_profile and (error := names.check_id(spec.cluster_profile)):
        violations.add(fp.child(at, "cluster_profile"), f"a ClusterProfile id: {error}")
    for type_name, class_name in spec.service_classes.items():
        entry_at = fp.key(fp.child(at, "service_classes"), type_name)
        if type_name not in DEPENDENCY_TYPES or type_name == "application":
            choices = ", ".join(t for t in known_types() if t != "application")
            violations.add(entry_at, f"unknown dependency type {type_name!r}; use one of {choices}")
        if error := names.check_id(class_name):
            violations.add(entry_at, f"class {error}")
    for position, rule in enumerate(spec.auto_deploy):
        _validate_rule(rule, fp.index(fp.child(at, "auto_deploy"), position), violations)
    if spec.cluster and (error := names.check_resource_name(spec.cluster, "clusters")):
        violations.add(fp.child(at, "cluster"), error)
    validate_labels(spec.cluster_labels, fp.child(at, "cluster_labels"), violations)
    if spec.namespace_template and (error := namespaces.check_template(spec.namespace_template)):
        violations.add(fp.child(at, "namespace_template"), error)
    if spec.domain and (error := names.check_dns_name(spec.domain)):
        violations.add(fp.child(at, "domain"), f"the domain for default ingress hosts: {error}")
    for field, problem in overrides.shape_violations(spec.overrides, fp.child(at, "overrides")):
        violations.add(field, problem)
    secret_refs.validate_registry_credentials(spec.registry_credentials, fp.child(at, "registry_credentials"),
                                              violations)
    return violations.as_list()


def _validate_rule(rule: environment_pb2.AutoDeployRule, at: str, violations: fp.Violations) -> None:
    if not rule.branch and not rule.tag:
        violations.add(at, "a rule needs a branch or a tag glob (e.g. {branch: main} or {tag: 'v*'})")
    if rule.branch and (error := git_refs.check_ref(rule.branch, "branch", glob=True)):
        violations.add(fp.child(at, "branch"), error)
    if rule.tag and (error := git_refs.check_ref(rule.tag, "tag", glob=True)):
        violations.add(fp.child(at, "tag"), error)
    if rule.application and (error := names.check_id(rule.application)):
        violations.add(fp.child(at, "application"), f"an application id: {error}")
