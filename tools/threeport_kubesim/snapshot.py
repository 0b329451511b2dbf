"""Saving every cluster (credentials, port, TLS material, objects) to one JSON file at shutdown and
recreating them from it at start, so a restarted emulator serves the same clusters."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from threeport_kubesim.cluster import ClusterOptions
from threeport_kubesim.controllers.crds import CRDS, register_crd
from threeport_kubesim.store import StoredObject, pack
from threeport_kubesim.tlsutil import TlsMaterial

if TYPE_CHECKING:
    from threeport_kubesim.emulator import Emulator

FORMAT = "kubesim-snapshot/v1"


def save_snapshot(emulator: Emulator, path: Path) -> None:
    clusters = []
    for cluster in emulator.clusters.values():
        objects: dict[str, list[Any]] = {}
        for (group, resource), bucket in cluster.store.buckets.items():
            objects[f"{group}/{resource}"] = [json.loads(stored.raw) for stored in bucket.values()]
        options = cluster.options
        clusters.append(
            {
                "name": cluster.name,
                "port": cluster.server.port,
                "token": cluster.token,
                "nodes": options.nodes,
                "speed": options.speed,
                "tls": cluster.tls_material.to_json() if cluster.tls_material else None,
                "resource_version": cluster.store.rv,
                "unreachable": cluster.unreachable,
                "objects": objects,
            }
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps({"format": FORMAT, "clusters": clusters}))
    os.replace(temporary, path)


async def load_snapshot(emulator: Emulator, path: Path) -> None:
    data = json.loads(await asyncio.to_thread(path.read_text))
    if data.get("format") != FORMAT:
        raise ValueError(f"{path} is not a kubesim snapshot")
    defaults = emulator.defaults
    for entry in data["clusters"]:
        tls = TlsMaterial.from_json(entry["tls"]) if entry.get("tls") else None
        options = ClusterOptions(
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
        )
        cluster = await emulator.create_cluster(entry["name"], options=options, bootstrap=False)
        store = cluster.store
        for crd in entry["objects"].get("/".join(CRDS), []):
            register_crd(cluster.registry, crd)
        for key, objects in entry["objects"].items():
            group, _, resource = key.partition("/")
            bucket = store.buckets.setdefault((group, resource), {})
            for obj in objects:
                metadata = obj["metadata"]
                raw = json.dumps(obj, separators=(",", ":")).encode()
                bucket[(metadata.get("namespace", ""), metadata["name"])] = StoredObject(
                    pack(raw), int(metadata.get("resourceVersion", "0")), metadata.get("labels") or None
                )
        store.rv = max(store.rv, int(entry["resource_version"]))
        cluster.kick_controllers()
        if entry.get("unreachable"):
            await cluster.set_unreachable(True)
