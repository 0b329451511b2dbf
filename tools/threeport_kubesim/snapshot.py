"""Saving every cluster (credentials, port, TLS material, objects) to one JSON file at shutdown and
recreating them from it at start, so a restarted emulator serves the same clusters. The record of
one cluster and the loading of its objects are shared with the write-through journal."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from threeport_kubesim.cluster import ClusterOptions, SimCluster
from threeport_kubesim.controllers.crds import CRDS, register_crd
from threeport_kubesim.store import GroupResource, StoredObject, pack
from threeport_kubesim.tlsutil import TlsMaterial

if TYPE_CHECKING:
    from threeport_kubesim.emulator import ClusterDefaults, Emulator

FORMAT = "kubesim-snapshot/v1"


def cluster_record(cluster: SimCluster) -> dict[str, Any]:
    """What recreates a cluster with the same address and credentials (objects aside)."""
    options = cluster.options
    return {
        "name": cluster.name,
        "port": cluster.server.port,
        "token": cluster.token,
        "nodes": options.nodes,
        "speed": options.speed,
        "tls": cluster.tls_material.to_json() if cluster.tls_material else None,
        "token_webhook": options.token_webhook,
    }


def options_from_record(entry: dict[str, Any], defaults: ClusterDefaults) -> ClusterOptions:
    tls = TlsMaterial.from_json(entry["tls"]) if entry.get("tls") else None
    return ClusterOptions(
        name=entry["name"],
        port=entry["port"],
        tls=tls is not None,
        nodes=entry["nodes"],
        token=entry["token"],
        speed=entry.get("speed", defaults.speed),
        max_events=defaults.max_events,
        history_size=defaults.history_size,
        bookmark_interval=defaults.bookmark_interval,
        tls_material=tls,
        token_webhook=str(entry.get("token_webhook", "")),
    )


def load_objects(cluster: SimCluster, objects: Mapping[GroupResource, Iterable[dict[str, Any]]], rv: int) -> None:
    """Put stored objects back without events (custom resources served again) and move the
    resourceVersion clock to at least `rv`."""
    store = cluster.store
    for crd in objects.get(CRDS, []):
        register_crd(cluster.registry, crd)
    for group_resource, items in objects.items():
        bucket = store.buckets.setdefault(group_resource, {})
        for obj in items:
            metadata = obj["metadata"]
            raw = json.dumps(obj, separators=(",", ":")).encode()
            bucket[(metadata.get("namespace", ""), metadata["name"])] = StoredObject(
                pack(raw), int(metadata.get("resourceVersion", "0")), metadata.get("labels") or None
            )
    store.rv = max(store.rv, rv)
    cluster.api.ips.skip_used(list(store.iter_objects(("", "services"))))


def save_snapshot(emulator: Emulator, path: Path) -> None:
    clusters = []
    for cluster in emulator.clusters.values():
        objects: dict[str, list[Any]] = {}
        for (group, resource), bucket in cluster.store.buckets.items():
            objects[f"{group}/{resource}"] = [json.loads(stored.raw) for stored in bucket.values()]
        record = cluster_record(cluster)
        record.update(resource_version=cluster.store.rv, unreachable=cluster.unreachable, objects=objects)
        clusters.append(record)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps({"format": FORMAT, "clusters": clusters}))
    os.replace(temporary, path)


async def load_snapshot(emulator: Emulator, path: Path) -> None:
    data = json.loads(await asyncio.to_thread(path.read_text))
    if data.get("format") != FORMAT:
        raise ValueError(f"{path} is not a kubesim snapshot")
    for entry in data["clusters"]:
        options = options_from_record(entry, emulator.defaults)
        cluster = await emulator.create_cluster(entry["name"], options=options, bootstrap=False)
        objects: dict[GroupResource, list[dict[str, Any]]] = {}
        for key, items in entry["objects"].items():
            group, _, resource = key.partition("/")
            objects[(group, resource)] = items
        load_objects(cluster, objects, int(entry["resource_version"]))
        # A snapshot keeps no history: watches cannot resume from before it.
        cluster.store.resumable_from = cluster.store.rv
        cluster.kick_controllers()
        if entry.get("unreachable"):
            await cluster.set_unreachable(True)
