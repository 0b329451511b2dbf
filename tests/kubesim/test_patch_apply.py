"""Patch formats and server-side apply: JSON patch, merge patch, strategic merge patch on keyed
lists, apply creating and updating, managedFields, conflicts with other managers and `force`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client

from tests.kubesim.helpers import deployment


def _raw_patch(
    api: client.ApiClient, path: str, body: Any, content_type: str, query: list[tuple[str, Any]] | None = None
) -> tuple[int, dict[str, Any]]:
    """PATCH with an exact content type, returning (status, decoded body) even for errors."""
    try:
        response = api.call_api(
            *api.param_serialize(
                "PATCH",
                path,
                query_params=query or [],
                body=body,
                header_params={"Content-Type": content_type, "Accept": "application/json"},
                auth_settings=["BearerToken"],
            )
        )
        response.read()
        return response.status, json.loads(response.data)
    except client.ApiException as exc:
        return exc.status, json.loads(exc.body)


def test_json_patch_and_merge_patch(api: client.ApiClient, core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_config_map(
        namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="p"), data={"a": "1", "b": "2"})
    )
    path = f"/api/v1/namespaces/{namespace}/configmaps/p"
    status, body = _raw_patch(
        api,
        path,
        [
            {"op": "replace", "path": "/data/a", "value": "10"},
            {"op": "remove", "path": "/data/b"},
            {"op": "add", "path": "/data/c", "value": "3"},
        ],
        "application/json-patch+json",
    )
    assert status == 200 and body["data"] == {"a": "10", "c": "3"}
    status, body = _raw_patch(api, path, {"data": {"a": None, "d": "4"}}, "application/merge-patch+json")
    assert status == 200 and body["data"] == {"c": "3", "d": "4"}
    status, body = _raw_patch(
        api, path, [{"op": "test", "path": "/data/c", "value": "nope"}], "application/json-patch+json"
    )
    assert status == 422


def test_strategic_merge_patch_merges_containers_by_name(apps: client.AppsV1Api, namespace: str) -> None:
    manifest = deployment("smp", replicas=1)
    manifest["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "envoy:1"})
    apps.create_namespaced_deployment(namespace, manifest)
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [{"name": "sidecar", "image": "envoy:2", "env": [{"name": "MODE", "value": "x"}]}]
                }
            }
        }
    }
    patched = apps.patch_namespaced_deployment("smp", namespace, patch)
    containers = {c.name: c for c in patched.spec.template.spec.containers}
    assert containers["main"].image == "nginx:1.27"
    assert containers["sidecar"].image == "envoy:2" and containers["sidecar"].env[0].name == "MODE"
    removal = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}}
    patched = apps.patch_namespaced_deployment("smp", namespace, removal)
    assert [c.name for c in patched.spec.template.spec.containers] == ["main"]


def test_strategic_merge_patch_is_refused_for_custom_resources(
    api: client.ApiClient, apiextensions_crd: str, namespace: str
) -> None:
    custom = client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object(
        "sim.threeport.io",
        "v1",
        namespace,
        "widgets",
        {
            "apiVersion": "sim.threeport.io/v1",
            "kind": "Widget",
            "metadata": {"name": "w"},
            "spec": {"size": 1},
        },
    )
    status, _ = _raw_patch(
        api,
        f"/apis/sim.threeport.io/v1/namespaces/{namespace}/widgets/w",
        {"spec": {"size": 2}},
        "application/strategic-merge-patch+json",
    )
    assert status == 415


def _apply(
    api: client.ApiClient, namespace: str, manifest: dict[str, Any], manager: str, force: bool = False
) -> tuple[int, dict[str, Any]]:
    name = manifest["metadata"]["name"]
    query: list[tuple[str, Any]] = [("fieldManager", manager)]
    if force:
        query.append(("force", "true"))
    return _raw_patch(
        api,
        f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
        manifest,
        "application/apply-patch+yaml",
        query,
    )


def test_server_side_apply_creates_tracks_owners_and_conflicts(
    api: client.ApiClient, apps: client.AppsV1Api, namespace: str
) -> None:
    manifest = deployment("ssa", replicas=2)
    status, created = _apply(api, namespace, manifest, "threeport")
    assert status == 201
    managers = {m["manager"]: m for m in created["metadata"]["managedFields"]}
    assert managers["threeport"]["operation"] == "Apply"
    assert "f:replicas" in managers["threeport"]["fieldsV1"]["f:spec"]

    # Re-applying the same values as another manager shares ownership: no conflict.
    status, _ = _apply(api, namespace, deployment("ssa", replicas=2), "other")
    assert status == 200

    # A different value owned by someone else is a conflict naming the field and the owner.
    status, conflict = _apply(api, namespace, deployment("ssa", replicas=5), "other")
    assert status == 409 and conflict["reason"] == "Conflict"
    causes = conflict["details"]["causes"]
    assert {"field": ".spec.replicas", "reason": "FieldManagerConflict"}.items() <= causes[0].items()
    assert "threeport" in causes[0]["message"]
    assert apps.read_namespaced_deployment("ssa", namespace).spec.replicas == 2

    status, forced = _apply(api, namespace, deployment("ssa", replicas=5), "other", force=True)
    assert status == 200 and forced["spec"]["replicas"] == 5
    owners = {m["manager"]: m["fieldsV1"] for m in forced["metadata"]["managedFields"]}
    assert "f:replicas" not in owners["threeport"].get("f:spec", {})
    assert "f:replicas" in owners["other"]["f:spec"]


def test_update_takes_ownership_and_apply_then_conflicts(
    api: client.ApiClient, apps: client.AppsV1Api, namespace: str
) -> None:
    status, _ = _apply(api, namespace, deployment("own", replicas=1), "threeport")
    assert status == 201
    apps.patch_namespaced_deployment("own", namespace, {"spec": {"replicas": 3}}, field_manager="hpa")
    status, conflict = _apply(api, namespace, deployment("own", replicas=1), "threeport")
    assert status == 409 and "hpa" in conflict["message"]


def test_apply_removes_fields_the_manager_stopped_declaring(api: client.ApiClient, namespace: str) -> None:
    manifest = deployment("prune", replicas=1)
    manifest["metadata"]["annotations"] = {"keep": "1", "drop": "1"}
    assert _apply(api, namespace, manifest, "threeport")[0] == 201
    del manifest["metadata"]["annotations"]["drop"]
    status, body = _apply(api, namespace, manifest, "threeport")
    annotations = body["metadata"]["annotations"]
    assert status == 200 and annotations["keep"] == "1" and "drop" not in annotations


def test_apply_requires_field_manager(api: client.ApiClient, namespace: str) -> None:
    status, body = _raw_patch(
        api,
        f"/apis/apps/v1/namespaces/{namespace}/deployments/x",
        deployment("x"),
        "application/apply-patch+yaml",
    )
    assert status == 400 and "fieldManager" in body["message"]


def test_status_subresource_is_separate(api: client.ApiClient, core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_persistent_volume_claim(
        namespace,
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "claim"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        },
    )
    path = f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/claim"
    # Status written through the main resource is ignored ...
    status, body = _raw_patch(
        api,
        path,
        {"status": {"phase": "Lost"}, "metadata": {"labels": {"x": "y"}}},
        "application/merge-patch+json",
    )
    assert status == 200 and body["status"].get("phase") != "Lost" and body["metadata"]["labels"] == {"x": "y"}
    # ... and spec or labels written through /status are ignored too.
    status, body = _raw_patch(
        api,
        path + "/status",
        {"status": {"phase": "Lost"}, "metadata": {"labels": {"x": "z"}}},
        "application/merge-patch+json",
    )
    assert status == 200 and body["status"]["phase"] == "Lost" and body["metadata"]["labels"] == {"x": "y"}


def test_scale_subresource(apps: client.AppsV1Api, namespace: str) -> None:
    apps.create_namespaced_deployment(namespace, deployment("scaled", replicas=1))
    scale = apps.read_namespaced_deployment_scale("scaled", namespace)
    assert scale.spec.replicas == 1 and scale.status.selector == "app=scaled"
    apps.replace_namespaced_deployment_scale(
        "scaled", namespace, {"metadata": {"name": "scaled"}, "spec": {"replicas": 4}}
    )
    assert apps.read_namespaced_deployment("scaled", namespace).spec.replicas == 4
    apps.patch_namespaced_deployment_scale("scaled", namespace, {"spec": {"replicas": 0}})
    assert apps.read_namespaced_deployment_scale("scaled", namespace).spec.replicas == 0


@pytest.fixture
def apiextensions_crd(api: client.ApiClient) -> str:
    from tests.kubesim.test_crds import ensure_widget_crd

    return ensure_widget_crd(api)


def _probed(name: str, image: str, probe: bool) -> dict[str, Any]:
    manifest = deployment(name, image=image, replicas=1)
    if probe:
        container = manifest["spec"]["template"]["spec"]["containers"][0]
        container["readinessProbe"] = {"httpGet": {"path": "/healthz", "port": 80}, "periodSeconds": 5}
    return manifest


def test_apply_without_a_field_it_alone_owned_removes_the_whole_field(api: client.ApiClient, namespace: str) -> None:
    """Issue 17 item 2: dropping a readiness probe while changing the image must not leave
    `readinessProbe: {httpGet: {}}` behind, as a real API server never does."""
    assert _apply(api, namespace, _probed("probe", "app:1", probe=True), "threeport")[0] == 201
    status, body = _apply(api, namespace, _probed("probe", "app:2", probe=False), "threeport")
    assert status == 200, body
    container = body["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "app:2"
    assert "readinessProbe" not in container
    owned = json.dumps(body["metadata"]["managedFields"])
    assert "readinessProbe" not in owned


def test_a_field_another_manager_owns_something_beneath_stays(api: client.ApiClient, namespace: str) -> None:
    assert _apply(api, namespace, _probed("shared", "app:1", probe=True), "threeport")[0] == 201
    # A second applier declares only the probe's period: the probe survives the first one's drop.
    other = _probed("shared", "app:1", probe=True)
    container = other["spec"]["template"]["spec"]["containers"][0]
    other["spec"] = {
        "template": {"spec": {"containers": [{"name": container["name"], "readinessProbe": {"periodSeconds": 5}}]}}
    }
    status, body = _apply(api, namespace, other, "tuner")
    assert status == 200, body
    status, body = _apply(api, namespace, _probed("shared", "app:2", probe=False), "threeport")
    assert status == 200, body
    assert body["spec"]["template"]["spec"]["containers"][0]["readinessProbe"] == {"periodSeconds": 5}


def test_json_patch_of_managed_fields_replaces_ownership(
    api: client.ApiClient, core: client.CoreV1Api, namespace: str
) -> None:
    """What `kubectl apply --server-side` does to migrate client-side apply's ownership."""
    config_map = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="migrate"), data={"mode": "a"})
    core.create_namespaced_config_map(namespace, config_map, field_manager="legacy")
    live = core.read_namespaced_config_map("migrate", namespace)
    path = f"/api/v1/namespaces/{namespace}/configmaps/migrate"
    entries = api.sanitize_for_serialization(live.metadata.managed_fields)
    assert [entry["manager"] for entry in entries] == ["legacy"]
    entries[0]["manager"], entries[0]["operation"] = "threeport", "Apply"
    patch = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": live.metadata.resource_version},
        {"op": "replace", "path": "/metadata/managedFields", "value": entries},
    ]
    status, body = _raw_patch(api, path, patch, "application/json-patch+json")
    assert status == 200, body
    assert [(e["manager"], e["operation"]) for e in body["metadata"]["managedFields"]] == [("threeport", "Apply")]
    # The new owner applies a changed value without conflicts (the old one would have conflicted).
    applied = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "migrate"}, "data": {"mode": "b"}}
    status, body = _raw_patch(api, path, applied, "application/apply-patch+yaml", [("fieldManager", "threeport")])
    assert status == 200 and body["data"] == {"mode": "b"}, body
    # Ownership can be reset with an empty list.
    status, body = _raw_patch(
        api, path, [{"op": "replace", "path": "/metadata/managedFields", "value": []}], "application/json-patch+json"
    )
    assert status == 200 and "managedFields" not in body["metadata"]
