"""domain.secret_rendering through rendering.render: secretEnv through a Secret and secretKeyRef,
pull secrets and imagePullSecrets, versions (never values) in the pod template hash."""

from __future__ import annotations

import base64
import json

import pytest
from google.protobuf import json_format

from threeport.registry.v1alpha1 import application_pb2
from threeport_workload_delivery.domain.rendering import RenderError, RenderInput, render
from threeport_workload_delivery.domain.secret_rendering import PullCredential, SecretValue

SPEC = json_format.ParseDict({"components": {
    "api": {"image": "r/api:1", "env": {"MODE": "web"}, "secretEnv": {"API_KEY": {"secret": "stripe-key"}}},
    "worker": {"image": "r/worker:1"}}}, application_pb2.ApplicationSpec())


def rendered(values: dict[str, SecretValue], pulls: dict[str, PullCredential]) -> dict[tuple[str, str], dict]:  # type: ignore[type-arg]
    objects = render(RenderInput(
        project="acme", deployment="projects/acme/deployments/shop-dev", application="shop", environment="dev",
        namespace="acme-shop-dev", spec=SPEC, images={}, dependencies={}, secret_values=values,
        pull_credentials=pulls))
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def test_secret_env_and_pull_secrets() -> None:
    pulls = {"ghcr": PullCredential("ghcr.io", "bot", "pw", 1)}
    objects = rendered({"stripe-key": SecretValue("sk_1", 1)}, pulls)
    secret = objects[("Secret", "shop-api-secret-env")]
    assert secret["data"] == {"stripe-key": base64.b64encode(b"sk_1").decode()}
    pod = objects[("Deployment", "shop-api")]["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert container["env"] == [{"name": "API_KEY", "valueFrom": {"secretKeyRef": {
        "name": "shop-api-secret-env", "key": "stripe-key"}}}]
    assert pod["spec"]["imagePullSecrets"] == [{"name": "shop-pull-ghcr"}]
    assert objects[("Deployment", "shop-worker")]["spec"]["template"]["spec"]["imagePullSecrets"] == [
        {"name": "shop-pull-ghcr"}]
    assert "env" not in objects[("Deployment", "shop-worker")]["spec"]["template"]["spec"]["containers"][0]
    pull = objects[("Secret", "shop-pull-ghcr")]
    assert pull["type"] == "kubernetes.io/dockerconfigjson"
    auth = json.loads(base64.b64decode(pull["data"][".dockerconfigjson"]))["auths"]["ghcr.io"]
    assert auth == {"username": "bot", "password": "pw", "auth": base64.b64encode(b"bot:pw").decode()}


def test_a_new_version_rolls_only_the_pods_that_use_it() -> None:
    def hashes(version: int) -> dict[str, str]:
        objects = rendered({"stripe-key": SecretValue(f"v{version}", version)}, {})
        return {c: objects[("Deployment", f"shop-{c}")]["spec"]["template"]["metadata"]["annotations"][
            "threeport.io/config-hash"] for c in ("api", "worker")}

    first, second = hashes(1), hashes(2)
    assert first["api"] != second["api"] and first["worker"] == second["worker"]
    assert "v2" not in json.dumps(rendered({"stripe-key": SecretValue("v2", 2)}, {})[("Deployment", "shop-api")])


def test_a_missing_secret_cannot_render() -> None:
    with pytest.raises(RenderError, match="stripe-key not set"):
        rendered({}, {})
