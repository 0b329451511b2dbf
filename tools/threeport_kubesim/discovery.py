"""Discovery documents (/version, /api, /apis, group-version resource lists) and the OpenAPI v3
index kubectl consults before `apply` (to learn that the server validates fields itself).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from threeport_kubesim.resources import ResourceRegistry, ResourceType

KUBE_VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-kubesim",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2024-12-11T00:00:00Z",
    "goVersion": "go1.23.4",
    "compiler": "gc",
    "platform": "linux/amd64",
}

_SUBRESOURCE_VERBS = ["get", "patch", "update"]


def _resource_entries(rtype: ResourceType) -> list[dict[str, Any]]:
    entry: dict[str, Any] = {
        "name": rtype.resource,
        "singularName": rtype.singular,
        "namespaced": rtype.namespaced,
        "kind": rtype.kind,
        "verbs": rtype.verbs,
    }
    if rtype.short_names:
        entry["shortNames"] = list(rtype.short_names)
    if rtype.categories:
        entry["categories"] = list(rtype.categories)
    entries = [entry]
    if rtype.has_status:
        entries.append(
            {
                "name": f"{rtype.resource}/status",
                "singularName": "",
                "namespaced": rtype.namespaced,
                "kind": rtype.kind,
                "verbs": _SUBRESOURCE_VERBS,
            }
        )
    if rtype.scale is not None:
        entries.append(
            {
                "name": f"{rtype.resource}/scale",
                "singularName": "",
                "namespaced": rtype.namespaced,
                "group": "autoscaling",
                "version": "v1",
                "kind": "Scale",
                "verbs": _SUBRESOURCE_VERBS,
            }
        )
    if rtype.key == ("", "pods"):
        # The kubelet's log, served through the API server (podlogs.py); GET only.
        entries.append({"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]})
    return entries


def core_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    listed = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": listed, "preferredVersion": listed[0]}


def group_list(registry: ResourceRegistry) -> dict[str, Any]:
    groups = [_group(name, versions) for name, versions in registry.group_versions().items() if name]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def group(registry: ResourceRegistry, name: str) -> dict[str, Any] | None:
    versions = registry.group_versions().get(name)
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}


def resource_list(registry: ResourceRegistry, group_name: str, version: str) -> dict[str, Any] | None:
    rtypes = registry.in_group_version(group_name, version)
    if not rtypes:
        return None
    resources = [e for rtype in sorted(rtypes, key=lambda r: r.resource) for e in _resource_entries(rtype)]
    group_version = f"{group_name}/{version}" if group_name else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }


def _gv_path(group_name: str, version: str) -> str:
    return f"api/{version}" if not group_name else f"apis/{group_name}/{version}"


def _openapi_doc(registry: ResourceRegistry, group_name: str, version: str) -> dict[str, Any]:
    parameter = {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}}
    paths: dict[str, Any] = {}
    prefix = "/" + _gv_path(group_name, version)
    for rtype in registry.in_group_version(group_name, version):
        gvk = {"group": group_name, "version": version, "kind": rtype.kind}
        base = (
            f"{prefix}/namespaces/{{namespace}}/{rtype.resource}" if rtype.namespaced else f"{prefix}/{rtype.resource}"
        )
        ok = {"200": {"description": "OK"}}
        operation = {"x-kubernetes-group-version-kind": gvk, "parameters": [parameter], "responses": ok}
        paths[base] = {"post": {**operation, "x-kubernetes-action": "post"}}
        paths[f"{base}/{{name}}"] = {
            "put": {**operation, "x-kubernetes-action": "put"},
            "patch": {**operation, "x-kubernetes-action": "patch"},
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": KUBE_VERSION["gitVersion"]},
        "paths": paths,
        "components": {"schemas": {}},
    }


def openapi_v3_index(registry: ResourceRegistry) -> dict[str, Any]:
    paths = {}
    for group_name, versions in registry.group_versions().items():
        for version in versions:
            doc = json.dumps(_openapi_doc(registry, group_name, version), sort_keys=True).encode()
            digest = hashlib.sha256(doc).hexdigest()[:32].upper()
            path = _gv_path(group_name, version)
            paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": paths}


def openapi_v3_document(registry: ResourceRegistry, path: str) -> dict[str, Any] | None:
    parts = path.strip("/").split("/")
    if parts[:1] == ["api"] and len(parts) == 2:
        group_name, version = "", parts[1]
    elif parts[:1] == ["apis"] and len(parts) == 3:
        group_name, version = parts[1], parts[2]
    else:
        return None
    if not registry.in_group_version(group_name, version):
        return None
    return _openapi_doc(registry, group_name, version)


def openapi_v2(registry: ResourceRegistry) -> dict[str, Any]:
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": KUBE_VERSION["gitVersion"]},
        "paths": {},
        "definitions": {},
    }
