"""Objects are checked against the published OpenAPI schemas of the announced Kubernetes version
(issue 10 item 13), answered as kube-apiserver answers: 400 for values of the wrong type and for
unknown fields under fieldValidation=Strict (which kubectl sends), unknown fields dropped
otherwise, 422 Invalid with causes for missing required fields."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.kubesim.helpers import deployment
from threeport_kubesim import schemas
from threeport_kubesim.errors import ApiError
from threeport_kubesim.testing import EmulatorHandle

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"


def _post(api: client.ApiClient, path: str, body: Any, query: list[tuple[str, Any]] | None = None) -> tuple[int, Any]:
    try:
        response = api.call_api(
            *api.param_serialize(
                "POST",
                path,
                query_params=query or [],
                body=body,
                header_params={"Content-Type": "application/json", "Accept": "application/json"},
                auth_settings=["BearerToken"],
            )
        )
        response.read()
        return response.status, json.loads(response.data)
    except client.ApiException as exc:
        return exc.status, json.loads(exc.body)


def test_wrong_types_are_a_decoding_error(api: client.ApiClient, namespace: str) -> None:
    manifest = deployment("typed", replicas=1)
    manifest["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "PORT", "value": 8080}]
    status, body = _post(api, f"/apis/apps/v1/namespaces/{namespace}/deployments", manifest)
    assert status == 400 and body["reason"] == "BadRequest", body
    assert body["message"].startswith('Deployment in version "v1" cannot be handled as a Deployment: json: ')
    assert "spec.template.spec.containers[0].env[0].value of type string" in body["message"]


def test_missing_required_fields_are_invalid_with_causes(api: client.ApiClient, namespace: str) -> None:
    manifest = deployment("volumes", replicas=1)
    manifest["spec"]["template"]["spec"]["volumes"] = [{"emptyDir": {}}]
    status, body = _post(api, f"/apis/apps/v1/namespaces/{namespace}/deployments", manifest)
    assert status == 422 and body["reason"] == "Invalid", body
    assert body["details"]["causes"] == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.template.spec.volumes[0].name"}
    ]
    expected = 'Deployment.apps "volumes" is invalid: spec.template.spec.volumes[0].name: Required value'
    assert body["message"] == expected


def test_unknown_fields_are_refused_under_strict_and_dropped_otherwise(
    api: client.ApiClient, apps: client.AppsV1Api, namespace: str
) -> None:
    manifest = deployment("typo", replicas=1)
    manifest["spec"]["replica"] = 3
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    status, body = _post(api, path, manifest, [("fieldValidation", "Strict")])
    assert status == 400, body
    assert body["message"].endswith('strict decoding error: unknown field "spec.replica"')
    status, body = _post(api, path, manifest, [("fieldValidation", "Bogus")])
    assert status == 400 and "fieldValidation" in body["message"]
    status, body = _post(api, path, manifest)
    assert status == 201 and "replica" not in body["spec"], body
    assert "replica" not in apps.read_namespaced_deployment("typo", namespace).to_dict()["spec"]


@pytest.mark.skipif(not os.path.exists(KUBECTL), reason="kubectl is not installed")
def test_kubectl_apply_of_a_misspelt_field_fails_as_on_a_real_server(
    emulator: EmulatorHandle, namespace: str, tmp_path: Path
) -> None:
    manifest = deployment("misspelt", replicas=1)
    manifest["metadata"]["namespace"] = namespace
    manifest["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    path = tmp_path / "m.json"
    path.write_text(json.dumps(manifest))
    env = dict(os.environ, KUBECONFIG=emulator.kubeconfig("main"), HOME=str(tmp_path))
    result = subprocess.run([KUBECTL, "apply", "-f", str(path)], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode != 0
    assert 'strict decoding error: unknown field "spec.template.spec.containers[0].imagePullPolicyy"' in result.stderr
    # With --validate=warn the field is dropped and kubectl prints the server's warning.
    warned = subprocess.run(
        [KUBECTL, "apply", "--validate=warn", "-f", str(path)], capture_output=True, text=True, env=env, timeout=60
    )
    assert warned.returncode == 0, warned.stderr
    assert 'Warning: unknown field "spec.template.spec.containers[0].imagePullPolicyy"' in warned.stderr


def test_validate_is_the_strict_check_for_rendered_objects() -> None:
    good = deployment("ok")
    schemas.validate(good)
    bad = deployment("bad")
    del bad["spec"]["selector"]
    with pytest.raises(ApiError) as invalid:
        schemas.validate(bad)
    assert invalid.value.code == 422
    assert invalid.value.details and invalid.value.details["causes"][0]["field"] == "spec.selector"
    bad = deployment("bad")
    bad["spec"]["template"]["spec"]["containers"][0]["port"] = 80
    with pytest.raises(ApiError) as unknown:
        schemas.validate(bad)
    assert unknown.value.code == 400
    assert 'unknown field "spec.template.spec.containers[0].port"' in unknown.value.message
    # Kinds without a published schema (custom resources) are not checked.
    assert schemas.problems({"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"size": "x"}}) == []


def test_schema_fields_named_like_schema_keywords_are_known() -> None:
    """A CRD's openAPIV3Schema has fields called `description`, `x-kubernetes-list-type`..."""
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": "a widget",
                            "properties": {
                                "ports": {
                                    "type": "array",
                                    "x-kubernetes-list-type": "map",
                                    "x-kubernetes-list-map-keys": ["name"],
                                    "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                                }
                            },
                        }
                    },
                }
            ],
        },
    }
    assert schemas.problems(crd) == []


def test_server_side_apply_drops_unknown_fields_before_anyone_owns_them(api: client.ApiClient, namespace: str) -> None:
    manifest = deployment("applied", replicas=1)
    manifest["spec"]["replica"] = 3
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments/applied"
    try:
        response = api.call_api(
            *api.param_serialize(
                "PATCH",
                path,
                query_params=[("fieldManager", "threeport")],
                body=manifest,
                header_params={"Content-Type": "application/apply-patch+yaml", "Accept": "application/json"},
                auth_settings=["BearerToken"],
            )
        )
        response.read()
        status, body = response.status, json.loads(response.data)
    except client.ApiException as exc:
        status, body = exc.status, json.loads(exc.body)
    assert status == 201, body
    assert "replica" not in body["spec"]
    assert '"f:replica"' not in json.dumps(body["metadata"]["managedFields"])
