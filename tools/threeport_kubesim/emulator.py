"""The emulator process: a set of simulated clusters created and deleted at runtime, the control
API server in front of them, and snapshot save/restore around the process lifetime."""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from threeport_kubesim.cluster import ClusterOptions, SimCluster
from threeport_kubesim.httpserver import HttpServer
from threeport_kubesim.journal import ClusterJournal, create_directory, replay, saved_clusters, write_record
from threeport_kubesim.snapshot import cluster_record, load_objects, options_from_record

log = logging.getLogger("threeport_kubesim")
CLUSTER_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class EmulatorError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(slots=True)
class ClusterDefaults:
    """Settings every new cluster inherits unless its create request overrides them."""

    # TLS by default: kubectl sends bearer tokens only over https, so a plain-HTTP cluster's
    # kubeconfig would not work with it.
    tls: bool = True
    nodes: int = 1
    speed: float = 1.0
    max_events: int = 1000
    history_size: int = 2000
    bookmark_interval: float = 60.0


class Emulator:
    def __init__(
        self,
        kubeconfig_dir: Path,
        defaults: ClusterDefaults | None = None,
        snapshot_path: Path | None = None,
        state_dir: Path | None = None,
    ) -> None:
        self.kubeconfig_dir = kubeconfig_dir
        self.defaults = defaults or ClusterDefaults()
        self.snapshot_path = snapshot_path
        # With a state directory every change is written through (journal.py) and survives kill -9.
        self.state_dir = state_dir
        self.clusters: dict[str, SimCluster] = {}
        self.journals: dict[str, ClusterJournal] = {}
        self.control_server: HttpServer | None = None

    async def create_cluster(
        self,
        name: str,
        tls: bool | None = None,
        nodes: int | None = None,
        token: str = "",
        port: int = 0,
        speed: float | None = None,
        token_webhook: str = "",
        bootstrap: bool = True,
        options: ClusterOptions | None = None,
        persist: bool = True,
    ) -> SimCluster:
        if not CLUSTER_NAME.match(name or ""):
            raise EmulatorError(400, f"invalid cluster name {name!r}: use a DNS label (lowercase, digits, '-')")
        if name in self.clusters:
            raise EmulatorError(409, f"cluster {name!r} already exists")
        defaults = self.defaults
        options = options or ClusterOptions(
            name=name,
            port=port,
            tls=defaults.tls if tls is None else tls,
            nodes=defaults.nodes if nodes is None else nodes,
            token=token,
            speed=defaults.speed if speed is None else speed,
            max_events=defaults.max_events,
            history_size=defaults.history_size,
            bookmark_interval=defaults.bookmark_interval,
            token_webhook=token_webhook,
        )
        cluster = SimCluster(replace(options, name=name), self.kubeconfig_dir)
        directory = create_directory(self.state_dir, name) if self.state_dir is not None and persist else None
        if directory is not None:
            self._attach_journal(cluster, directory)
        if bootstrap:
            cluster.bootstrap()
        try:
            await cluster.start()
        except OSError as exc:
            await cluster.stop()
            self._forget(name, remove_state=directory is not None)
            raise EmulatorError(409, f"cannot listen on port {options.port}: {exc}") from exc
        if directory is not None:
            write_record(directory, cluster_record(cluster))
        self.clusters[name] = cluster
        log.info("cluster %s serving at %s", name, cluster.server_url)
        return cluster

    async def delete_cluster(self, name: str) -> None:
        cluster = self.clusters.pop(name, None)
        if cluster is None:
            raise EmulatorError(404, f"cluster {name!r} not found")
        await cluster.stop()
        self._forget(name, remove_state=True)
        if cluster.kubeconfig_path is not None:
            cluster.kubeconfig_path.unlink(missing_ok=True)

    def _attach_journal(self, cluster: SimCluster, directory: Path) -> None:
        journal = ClusterJournal(directory, cluster.store)
        cluster.store.journal = journal
        self.journals[cluster.name] = journal

    def _forget(self, name: str, remove_state: bool) -> None:
        journal = self.journals.pop(name, None)
        if journal is not None:
            journal.close()
            if remove_state:
                shutil.rmtree(journal.directory, ignore_errors=True)

    def get(self, name: str) -> SimCluster:
        cluster = self.clusters.get(name)
        if cluster is None:
            raise EmulatorError(404, f"cluster {name!r} not found")
        return cluster

    async def start_control(self, port: int) -> int:
        from threeport_kubesim.control_api import ControlApi

        self.control_server = HttpServer(ControlApi(self).handle, port=port)
        await self.control_server.start()
        return self.control_server.port

    async def shutdown(self) -> None:
        if self.control_server is not None:
            await self.control_server.stop()
        if self.snapshot_path is not None:
            from threeport_kubesim.snapshot import save_snapshot

            save_snapshot(self, self.snapshot_path)
        for name in list(self.clusters):
            cluster = self.clusters.pop(name)
            await cluster.stop()
            self._forget(name, remove_state=False)

    async def restore(self) -> None:
        if self.state_dir is not None:
            await self._restore_state_dir(self.state_dir)
        if self.snapshot_path is None or not self.snapshot_path.exists():
            return
        from threeport_kubesim.snapshot import load_snapshot

        await load_snapshot(self, self.snapshot_path)

    async def _restore_state_dir(self, state_dir: Path) -> None:
        for directory, record in await asyncio.to_thread(saved_clusters, state_dir):
            state = await asyncio.to_thread(replay, directory)
            options = options_from_record(record, self.defaults)
            cluster = await self.create_cluster(record["name"], options=options, bootstrap=False, persist=False)
            load_objects(cluster, {gr: bucket.values() for gr, bucket in state.objects.items()}, state.rv)
            cluster.store.history.extend(state.history)
            cluster.store.resumable_from = state.resumable_from
            self._attach_journal(cluster, directory)
            cluster.kick_controllers()
            log.info("cluster %s restored from %s at resourceVersion %d", cluster.name, directory, state.rv)
