"""domain.rendering: deterministic objects, secrets only in Secrets, a config hash that rolls pods."""

from __future__ import annotations

from google.protobuf import json_format

from threeport.delivery.v1alpha1 import release_pb2
from threeport.registry.v1alpha1 import application_pb2
from threeport_workload_delivery.domain import names
from threeport_workload_delivery.domain.rendering import (
    DependencyOutputs,
    RenderInput,
    component_outputs,
    fingerprint,
    image_of,
    redacted,
    render,
)


def spec(level: str = "info") -> application_pb2.ApplicationSpec:
    return json_format.ParseDict({"components": {"api": {
        "image": "reg.example.com/api:1", "ports": [{"name": "http", "port": 8080}],
        "env": {"LEVEL": level, "DB_URL": "${dependencies.db.url}", "DB_HOST": "${dependencies.db.host}"}}},
        "dependencies": {"db": {"type": "postgres"}}}, application_pb2.ApplicationSpec())


def objects(level: str = "info", password: str = "p") -> list[dict[str, object]]:
    return render(RenderInput(
        project="acme", deployment="projects/acme/deployments/shop-dev", application="shop", environment="dev",
        namespace="acme-shop-dev", spec=spec(level),
        images={"api": release_pb2.ImageRef(image="reg.example.com/api:1")},
        dependencies={"db": DependencyOutputs("postgres", {"host": "db.local"}, {"url": f"postgres://u:{password}@db"})}))


def by_kind(found: list[dict[str, object]], kind: str) -> dict[str, object]:
    return next(o for o in found if o["kind"] == kind)


def test_secret_outputs_go_to_a_secret_and_plain_ones_to_a_config_map() -> None:
    found = objects()
    config = by_kind(found, "ConfigMap")["data"]
    assert config == {"LEVEL": "info", "DB_HOST": "db.local"}  # type: ignore[comparison-overlap]
    assert set(by_kind(found, "Secret")["data"]) == {"DB_URL"}  # type: ignore[arg-type]
    assert all(o["metadata"]["labels"][names.MANAGED_BY] == "threeport" for o in found)  # type: ignore[index]


def test_rendering_is_deterministic_and_a_config_change_rolls_the_pods() -> None:
    assert fingerprint(objects()) == fingerprint(objects())

    def config_hash(found: list[dict[str, object]]) -> str:
        template = by_kind(found, "Deployment")["spec"]["template"]  # type: ignore[index]
        return str(template["metadata"]["annotations"][names.CONFIG_HASH_ANNOTATION])  # type: ignore[index]

    assert config_hash(objects("debug")) != config_hash(objects())
    # A new password is a new release, though releases never store its value.
    assert fingerprint(objects(password="q")) != fingerprint(objects())
    assert set(redacted(by_kind(objects(), "Secret"))["data"].values()) == {""}  # type: ignore[union-attr]


def test_images_are_pinned_by_digest_and_outputs_published_per_component() -> None:
    assert image_of(release_pb2.ImageRef(image="r/a:1", digest="sha256:x")) == "r/a:1@sha256:x"
    assert image_of(release_pb2.ImageRef(image="r/a@sha256:x", digest="sha256:x")) == "r/a@sha256:x"
    assert component_outputs(spec(), "shop", "acme-shop-dev")["api.url"] == (
        "http://shop-api.acme-shop-dev.svc.cluster.local:8080")
