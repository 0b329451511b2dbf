"""CustomResourceDefinitions: served right after creation, with status and scale subresources,
discovery entries and keyed-list merging from the schema; gone again after deletion."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client, dynamic

from tests.kubesim.helpers import wait_for

GROUP = "sim.threeport.io"


def widget_crd(plural: str = "widgets", kind: str = "Widget") -> dict[str, Any]:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "size": {"type": "integer"},
                    "replicas": {"type": "integer"},
                    "ports": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"],
                        "items": {
                            "type": "object",
                            "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
                        },
                    },
                },
            },
            "status": {
                "type": "object",
                "properties": {"ready": {"type": "boolean"}, "replicas": {"type": "integer"}},
            },
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": kind.lower(), "kind": kind, "shortNames": [plural[:3]]},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                    "subresources": {
                        "status": {},
                        "scale": {
                            "specReplicasPath": ".spec.replicas",
                            "statusReplicasPath": ".status.replicas",
                        },
                    },
                }
            ],
        },
    }


def ensure_widget_crd(api: client.ApiClient) -> str:
    extensions = client.ApiextensionsV1Api(api)
    try:
        extensions.create_custom_resource_definition(widget_crd())
    except client.ApiException as exc:
        if exc.status != 409:
            raise
    wait_for(
        lambda: any(
            c.type == "Established" and c.status == "True"
            for c in extensions.read_custom_resource_definition(f"widgets.{GROUP}").status.conditions or []
        ),
        what="CRD established",
    )
    return f"widgets.{GROUP}"


def test_crd_resources_are_served_after_creation(
    api: client.ApiClient, namespace: str, dynamic_client: dynamic.DynamicClient
) -> None:
    custom = client.CustomObjectsApi(api)
    with pytest.raises(client.ApiException) as before:
        custom.list_namespaced_custom_object(GROUP, "v1", namespace, "gadgets")
    assert before.value.status == 404
    extensions = client.ApiextensionsV1Api(api)
    extensions.create_custom_resource_definition(widget_crd("gadgets", "Gadget"))
    wait_for(
        lambda: extensions.read_custom_resource_definition(f"gadgets.{GROUP}").status.accepted_names,
        what="accepted names",
    )
    created = custom.create_namespaced_custom_object(
        GROUP,
        "v1",
        namespace,
        "gadgets",
        {"apiVersion": f"{GROUP}/v1", "kind": "Gadget", "metadata": {"name": "g1"}, "spec": {"size": 3}},
    )
    assert created["metadata"]["generation"] == 1
    assert custom.get_namespaced_custom_object(GROUP, "v1", namespace, "gadgets", "g1")["spec"]["size"] == 3
    resources = client.CustomObjectsApi(api).api_client.call_api(
        *api.param_serialize("GET", f"/apis/{GROUP}/v1", auth_settings=["BearerToken"])
    )
    resources.read()
    assert b'"gadgets"' in resources.data and b'"gadgets/status"' in resources.data

    gadgets = dynamic_client.resources.get(api_version=f"{GROUP}/v1", kind="Gadget")
    assert [item.metadata.name for item in gadgets.get(namespace=namespace).items] == ["g1"]

    extensions.delete_custom_resource_definition(f"gadgets.{GROUP}")
    wait_for(
        lambda: _status_of(lambda: custom.list_namespaced_custom_object(GROUP, "v1", namespace, "gadgets")) == 404,
        what="resource no longer served",
    )


def _status_of(call: Any) -> int:
    try:
        call()
    except client.ApiException as exc:
        return int(exc.status)
    return 200


def test_custom_resource_status_and_scale(api: client.ApiClient, namespace: str) -> None:
    ensure_widget_crd(api)
    custom = client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object(
        GROUP,
        "v1",
        namespace,
        "widgets",
        {
            "apiVersion": f"{GROUP}/v1",
            "kind": "Widget",
            "metadata": {"name": "w"},
            "spec": {"size": 1, "replicas": 1},
            "status": {"ready": True},
        },
    )
    widget = custom.get_namespaced_custom_object(GROUP, "v1", namespace, "widgets", "w")
    assert "status" not in widget
    custom.patch_namespaced_custom_object_status(
        GROUP, "v1", namespace, "widgets", "w", {"status": {"ready": True, "replicas": 1}}
    )
    updated = custom.patch_namespaced_custom_object(GROUP, "v1", namespace, "widgets", "w", {"spec": {"size": 2}})
    assert updated["status"] == {"ready": True, "replicas": 1}
    assert updated["metadata"]["generation"] == 2
    custom.patch_namespaced_custom_object_scale(GROUP, "v1", namespace, "widgets", "w", {"spec": {"replicas": 3}})
    assert custom.get_namespaced_custom_object(GROUP, "v1", namespace, "widgets", "w")["spec"]["replicas"] == 3


def test_apply_merges_custom_list_by_schema_keys(api: client.ApiClient, namespace: str) -> None:
    ensure_widget_crd(api)
    custom = client.CustomObjectsApi(api)
    base = {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": "ports"}}
    custom.patch_namespaced_custom_object(
        GROUP,
        "v1",
        namespace,
        "widgets",
        "ports",
        {**base, "spec": {"ports": [{"name": "http", "port": 80}]}},
        field_manager="a",
        _content_type="application/apply-patch+yaml",
    )
    merged = custom.patch_namespaced_custom_object(
        GROUP,
        "v1",
        namespace,
        "widgets",
        "ports",
        {**base, "spec": {"ports": [{"name": "grpc", "port": 9090}]}},
        field_manager="b",
        _content_type="application/apply-patch+yaml",
    )
    assert sorted(p["name"] for p in merged["spec"]["ports"]) == ["grpc", "http"]
