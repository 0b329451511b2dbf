"""Server-side printing: `meta.k8s.io/v1` Tables, which kubectl asks for on every `get`."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import orjson

from threeport_kubesim.meta import parse_rfc3339
from threeport_kubesim.resources import ResourceType


def wants_table(accept: str) -> bool:
    return "as=Table" in accept


def _age(obj: dict[str, Any]) -> str:
    created = obj.get("metadata", {}).get("creationTimestamp")
    if not created:
        return "<unknown>"
    seconds = max(0, int(time.time() - parse_rfc3339(created)))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def _pod_cells(obj: dict[str, Any]) -> list[Any]:
    status = obj.get("status") or {}
    containers = status.get("containerStatuses") or []
    total = len((obj.get("spec") or {}).get("containers") or [])
    ready = sum(1 for c in containers if c.get("ready"))
    phase = status.get("phase", "Pending")
    for c in containers:
        waiting = (c.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason"):
            phase = waiting["reason"]
    if obj.get("metadata", {}).get("deletionTimestamp"):
        phase = "Terminating"
    restarts = sum(int(c.get("restartCount", 0)) for c in containers)
    return [f"{ready}/{total}", phase, restarts]


def _columns_and_cells(rtype: ResourceType, obj: dict[str, Any]) -> tuple[list[str], list[Any]]:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    if rtype.custom:
        return [], []
    kind = rtype.kind
    if kind == "Pod":
        return ["Ready", "Status", "Restarts"], _pod_cells(obj)
    if kind == "Deployment":
        return (
            ["Ready", "Up-to-date", "Available"],
            [
                f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
                status.get("updatedReplicas", 0),
                status.get("availableReplicas", 0),
            ],
        )
    if kind == "ReplicaSet":
        return (
            ["Desired", "Current", "Ready"],
            [spec.get("replicas", 0), status.get("replicas", 0), status.get("readyReplicas", 0)],
        )
    if kind == "StatefulSet":
        return ["Ready"], [f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}"]
    if kind == "DaemonSet":
        return (
            ["Desired", "Current", "Ready"],
            [
                status.get("desiredNumberScheduled", 0),
                status.get("currentNumberScheduled", 0),
                status.get("numberReady", 0),
            ],
        )
    if kind == "Service":
        ingress = (status.get("loadBalancer") or {}).get("ingress") or []
        external = ",".join(i.get("ip") or i.get("hostname", "") for i in ingress) or (
            "<pending>" if spec.get("type") == "LoadBalancer" else "<none>"
        )
        ports = ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or [])
        return (
            ["Type", "Cluster-IP", "External-IP", "Port(s)"],
            [spec.get("type", "ClusterIP"), spec.get("clusterIP", ""), external, ports or "<none>"],
        )
    if kind == "ConfigMap":
        return ["Data"], [len(obj.get("data") or {}) + len(obj.get("binaryData") or {})]
    if kind == "Secret":
        return ["Type", "Data"], [obj.get("type", "Opaque"), len(obj.get("data") or {})]
    if kind == "Namespace" or kind == "PersistentVolumeClaim":
        return ["Status"], [status.get("phase", "")]
    if kind == "Node":
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
        return ["Status"], ["Ready" if ready else "NotReady"]
    if kind == "Job":
        return (
            ["Status", "Completions"],
            [
                "Complete" if status.get("succeeded", 0) >= spec.get("completions", 1) else "Running",
                f"{status.get('succeeded', 0)}/{spec.get('completions', 1)}",
            ],
        )
    if kind == "Event":
        involved = obj.get("involvedObject") or {}
        return (
            ["Type", "Reason", "Object", "Message"],
            [
                obj.get("type", ""),
                obj.get("reason", ""),
                f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
                obj.get("message", ""),
            ],
        )
    return [], []


def render_table(
    rtype: ResourceType,
    objects: list[dict[str, Any]],
    resource_version: str,
    list_metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    extra_names = _columns_and_cells(rtype, objects[0])[0] if objects else _columns_and_cells(rtype, {"spec": {}})[0]
    columns = [{"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0}]
    columns += [{"name": n, "type": "string", "format": "", "description": n, "priority": 0} for n in extra_names]
    columns.append({"name": "Age", "type": "string", "format": "", "description": "Age", "priority": 0})
    rows = []
    for obj in objects:
        metadata = obj.get("metadata", {})
        partial = {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": {k: v for k, v in metadata.items() if k != "managedFields"},
        }
        rows.append(
            {
                "cells": [metadata.get("name", ""), *_columns_and_cells(rtype, obj)[1], _age(obj)],
                "object": partial,
            }
        )
    metadata = dict(list_metadata or {})
    metadata.setdefault("resourceVersion", resource_version)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": columns,
        "rows": rows,
    }


async def table_events(rtype: ResourceType, lines: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """A watch's event lines with each object as a one-row Table (what kubectl asks for with
    ``get -w``). As kube-apiserver does, only the first carries the column definitions: kubectl
    prints a header when they change, so every event repeating them printed one per line."""
    first = True
    async for chunk in lines:
        out = []
        for line in chunk.splitlines():
            event = orjson.loads(line)
            obj = event.get("object") or {}
            if event.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                table = render_table(rtype, [obj], str((obj.get("metadata") or {}).get("resourceVersion", "")))
                if not first:
                    table["columnDefinitions"] = None
                first = False
                event = {"type": event["type"], "object": table}
            out.append(orjson.dumps(event) + b"\n")
        yield b"".join(out)
