"""Environment, ClusterProfile, ServiceClass, AddonProfile and Build validation."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import json_format

from tests.registry.unit.manifests import application, environment, prod_with
from threeport.registry.v1alpha1 import (
    addon_profile_pb2,
    build_pb2,
    cluster_profile_pb2,
    service_class_pb2,
)
from threeport_registry.domain import defaults
from threeport_registry.domain.builds import validate_build
from threeport_registry.domain.environment import validate_environment
from threeport_registry.domain.profiles import (
    validate_addon_profile,
    validate_cluster_profile,
    validate_service_class,
)

SPEC = "environment.spec"


def test_the_design_prod_environment_validates_cleanly() -> None:
    assert validate_environment(environment(), environment_id="prod") == []


BAD_ENVIRONMENTS: list[tuple[str, Any, str, tuple[str, ...]]] = [
    ("type", 9, f"{SPEC}.type", ("ENVIRONMENT_TYPE_PRODUCTION",)),
    ("clusterProfile", "Big One", f"{SPEC}.cluster_profile", ("ClusterProfile",)),
    ("serviceClasses", {"mongodb": "large"}, f"{SPEC}.service_classes[mongodb]", ("postgres", "redis")),
    (
        "serviceClasses",
        {"application": "x"},
        f"{SPEC}.service_classes[application]",
        ("unknown dependency type",),
    ),
    ("serviceClasses", {"postgres": "XL"}, f"{SPEC}.service_classes[postgres]", ("class",)),
    ("autoDeploy", [{"application": "ledger"}], f"{SPEC}.auto_deploy[0]", ("branch or a tag",)),
    ("autoDeploy", [{"branch": "feature branch"}], f"{SPEC}.auto_deploy[0].branch", ("no spaces",)),
    ("autoDeploy", [{"branch": "a..b"}], f"{SPEC}.auto_deploy[0].branch", ("'..'",)),
    (
        "autoDeploy",
        [{"tag": "v*", "application": "Ledger"}],
        f"{SPEC}.auto_deploy[0].application",
        ("application id",),
    ),
    ("cluster", "prod", f"{SPEC}.cluster", ("clusters/ID",)),
    ("clusterLabels", {"tier": "a b"}, f"{SPEC}.cluster_labels[tier]", ("value",)),
    ("namespaceTemplate", "{team}-{application}", f"{SPEC}.namespace_template", ("{team}", "{project}")),
    ("namespaceTemplate", "{project}_{application}", f"{SPEC}.namespace_template", ("lowercase",)),
    ("namespaceTemplate", "-{project}", f"{SPEC}.namespace_template", ("start with a letter",)),
    ("namespaceTemplate", "{project", f"{SPEC}.namespace_template", ("braces",)),
    ("domain", "Example.COM", f"{SPEC}.domain", ("default ingress hosts", "ledger.example.com")),
    ("domain", "*.example.com", f"{SPEC}.domain", ("lowercase letters",)),
    ("namespaceTemplate", "team-{application}", f"{SPEC}.namespace_template", ("must contain {project}",)),
    ("namespaceTemplate", "kube-{project}", f"{SPEC}.namespace_template", ("system namespaces", "kube-system")),
]


@pytest.mark.parametrize(("path", "value", "field", "words"), BAD_ENVIRONMENTS)
def test_bad_environments(path: str, value: Any, field: str, words: tuple[str, ...]) -> None:
    violations = validate_environment(prod_with(path, value))

    assert [v.field for v in violations] == [field], violations
    for word in words:
        assert word in violations[0].description


def test_environment_id_and_good_variants() -> None:
    assert [v.field for v in validate_environment(environment(), environment_id="Prod")] == ["environment_id"]
    assert validate_environment(prod_with("namespaceTemplate", "team-{project}-{application}")) == []
    assert validate_environment(prod_with("autoDeploy", [{"branch": "release/[0-9]*", "tag": "v?.*"}])) == []
    assert validate_environment(prod_with("cluster", "clusters/prod-use1")) == []


def _cluster_profile(**spec: Any) -> cluster_profile_pb2.ClusterProfile:
    profile = cluster_profile_pb2.ClusterProfile()
    json_format.ParseDict({"provider": "eks", "location": "Europe:Frankfurt", **spec}, profile.spec)
    return profile


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        ({"provider": "gke"}, "provider", ("sim, eks, kind",)),
        ({"location": ""}, "location", ("required for provider eks",)),
        ({"location": "Europe:Berlin"}, "location", ("Europe:Frankfurt",)),
        ({"nodeSize": "huge"}, "node_size", ("small, medium, large",)),
        ({"minNodes": 5, "maxNodes": 3}, "max_nodes", ("below min_nodes 5",)),
        ({"minNodes": -1}, "min_nodes", ("0-1000",)),
        ({"kubernetesVersion": "v1.32"}, "kubernetes_version", ("1.N",)),
        ({"account": "aws-main"}, "account", ("accounts/ID",)),
        ({"clusterLabels": {"-x": "y"}}, "cluster_labels[-x]", ("key",)),
    ],
)
def test_bad_cluster_profiles(spec: dict[str, Any], field: str, words: tuple[str, ...]) -> None:
    violations = validate_cluster_profile(_cluster_profile(**spec))

    assert [v.field for v in violations] == [f"cluster_profile.spec.{field}"]
    for word in words:
        assert word in violations[0].description


def test_good_cluster_profiles() -> None:
    assert (
        validate_cluster_profile(_cluster_profile(kubernetesVersion="1.32.1", minNodes=1, maxNodes=1)) == []
    )
    assert validate_cluster_profile(_cluster_profile(provider="kind", location="")) == []


def _service_class(**spec: Any) -> service_class_pb2.ServiceClass:
    service_class = service_class_pb2.ServiceClass()
    json_format.ParseDict(
        {"type": "postgres", "class": "small", "implementation": "aws-rds", **spec}, service_class.spec
    )
    return service_class


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        ({"type": "mongodb"}, "type", ("bucket", "secrets", "tls")),
        ({"type": "application"}, "type", ("unknown type",)),
        ({"class": ""}, "class", ("'*'",)),
        ({"class": "Small"}, "class", ("'*'",)),
        ({"implementation": ""}, "implementation", ("aws-rds",)),
        ({"scope": {"project": "acme"}}, "scope.project", ("projects/ID",)),
        ({"scope": {"environment": "prod"}}, "scope.environment", ("projects/PROJECT/environments/ID",)),
        (
            {"scope": {"project": "projects/acme", "environment": "projects/other/environments/prod"}},
            "scope.environment",
            ("not in the scope's project",),
        ),
        ({"scope": {"environmentType": 7}}, "scope.environment_type", ("ENVIRONMENT_TYPE_STAGING",)),
        ({"retainPolicy": 5}, "retain_policy", ("RETAIN_POLICY_RETAIN",)),
    ],
)
def test_bad_service_classes(spec: dict[str, Any], field: str, words: tuple[str, ...]) -> None:
    violations = validate_service_class(_service_class(**spec))

    assert [v.field for v in violations] == [f"service_class.spec.{field}"]
    for word in words:
        assert word in violations[0].description


def test_addon_profiles() -> None:
    good = addon_profile_pb2.AddonProfile(
        spec=addon_profile_pb2.AddonProfileSpec(type="tls", addon="addons/cert-manager")
    )
    bad = addon_profile_pb2.AddonProfile(
        spec=addon_profile_pb2.AddonProfileSpec(type="postgres", addon="cert-manager")
    )

    assert validate_addon_profile(good) == []
    violations = validate_addon_profile(bad)
    assert [v.field for v in violations] == ["addon_profile.spec.type", "addon_profile.spec.addon"]
    assert "dns, ingress, logging, metrics, secrets, tls" in violations[0].description


def test_every_default_profile_is_valid_and_marked_as_system_default() -> None:
    for profile in defaults.default_cluster_profiles():
        assert validate_cluster_profile(profile) == [] and profile.status.system_default
    for service_class in defaults.default_service_classes():
        assert validate_service_class(service_class) == [] and service_class.status.system_default
    for addon_profile in defaults.default_addon_profiles():
        assert validate_addon_profile(addon_profile) == [] and addon_profile.status.system_default
    assert {p.name for p in defaults.default_cluster_profiles()} == {
        "clusterProfiles/standard",
        "clusterProfiles/dev",
    }
    assert {p.spec.provider for p in defaults.default_cluster_profiles()} == {"sim"}


def _build(**spec: str) -> build_pb2.Build:
    return build_pb2.Build(
        spec=build_pb2.BuildSpec(**{"component": "api", "image": "r.io/ledger/api:1.4.2", **spec})
    )


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        ({"component": "web"}, "component", ("api, worker",)),
        ({"component": ""}, "component", ("required",)),
        ({"image": "R.io/Ledger"}, "image", ("lowercase",)),
        ({"digest": "sha256:abc"}, "digest", ("64 lowercase hex",)),
        ({"image": "r.io/a@sha256:" + "a" * 64, "digest": "sha256:" + "b" * 64}, "digest", ("differs",)),
        ({"branch": "main branch"}, "branch", ("no spaces",)),
        ({"branch": "feature/*"}, "branch", ("git branch",)),
        ({"tag": "v1.0.lock"}, "tag", (".lock",)),
        ({"commit": "abc12"}, "commit", ("7 to 40 hex",)),
        ({"commit": "z" * 40}, "commit", ("hex",)),
        ({"url": "ftp://ci.example.com/run/1"}, "url", ("http:// or https://",)),
        ({"url": "https://"}, "url", ("https://",)),
    ],
)
def test_bad_builds(spec: dict[str, str], field: str, words: tuple[str, ...]) -> None:
    violations = validate_build(_build(**spec), application())

    assert [v.field for v in violations] == [f"build.spec.{field}"]
    for word in words:
        assert word in violations[0].description


def test_a_complete_build_is_valid() -> None:
    build = _build(
        digest="sha256:" + "c" * 64,
        branch="release/1.4",
        tag="v1.4.2",
        commit="0a1B2c3d4e",
        url="https://ci.example.com/acme/ledger/runs/42",
    )

    assert validate_build(build, application()) == []
