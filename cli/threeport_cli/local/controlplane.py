"""Brings the local control plane up, reports on it and takes it down (``tptctl up|status|down``).

``up`` is idempotent: what already runs healthy is kept, what died is started again on the port
it had, so clients' URLs stay valid across restarts.
"""

from __future__ import annotations

import importlib.util
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis

from threeport_cli.local import datastores, processes
from threeport_cli.local.statedir import ProcessRecord, StateDir, StateRecord

# The control-plane services, in start order. `up` starts those that are installed.
SERVICE_PACKAGES = (
    "threeport_registry",
    "threeport_cluster_manager",
    "threeport_addon_manager",
    "threeport_infra_provider",
    "threeport_workload_delivery",
    "threeport_api_gateway",
)
START_TIMEOUT = 60.0

Progress = Callable[[str], None]


@dataclass
class Health:
    """One line of ``tptctl status``."""

    name: str
    healthy: bool
    detail: str


def postgres_ready(url: str) -> bool:
    try:
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=2) as db:
            db.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def redis_ready(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except redis.RedisError:
        return False


def installed_services() -> list[str]:
    return [name for name in SERVICE_PACKAGES if importlib.util.find_spec(name) is not None]


class LocalControlPlane:
    """The processes of one state directory."""

    def __init__(self, state_dir: Path, progress: Progress) -> None:
        self.state = StateDir(state_dir)
        self.progress = progress

    def up(self, database_url: str | None = None, redis_url: str | None = None) -> StateRecord:
        self.state.ensure()
        record = self.state.load()
        if database_url:
            record.processes = [p for p in record.processes if p.name != "postgres"]
            record.ports.pop("postgres", None)
            if not postgres_ready(database_url):
                raise datastores.DatastoreError(f"cannot connect to --database-url {database_url}")
            record.replace(ProcessRecord("postgres", 0, [], "", url=database_url))
        else:
            self._ensure_postgres(record)
        if redis_url:
            if not redis_ready(redis_url):
                raise datastores.DatastoreError(f"cannot connect to --redis-url {redis_url}")
            record.replace(ProcessRecord("redis", 0, [], "", url=redis_url))
        else:
            self._ensure_redis(record)
        self.state.save(record)
        services = installed_services()
        if not services:
            self.progress("no control-plane services are installed yet; datastores are up")
        return record

    def _port(self, record: StateRecord, name: str) -> int:
        if name not in record.ports:
            record.ports[name] = processes.free_port()
        return record.ports[name]

    def _running(self, record: StateRecord, name: str, ready: Callable[[], bool]) -> bool:
        existing = record.find(name)
        return bool(existing and existing.pid and processes.is_alive(existing.pid) and ready())

    def _ensure_postgres(self, record: StateRecord) -> None:
        port = self._port(record, "postgres")
        url = datastores.database_url(port)
        if self._running(record, "postgres", lambda: postgres_ready(url)):
            self.progress(f"postgres: already running on 127.0.0.1:{port}")
            return
        log = self.state.log("postgres")
        data_dir = self.state.sub("postgres") / "data"
        if not (data_dir / "PG_VERSION").exists():
            self.progress("postgres: creating the database cluster (first start)")
        datastores.init_postgres(data_dir, log)
        command = datastores.postgres_command(data_dir, port)
        self.progress(f"postgres: starting on 127.0.0.1:{port}")
        pid = processes.start_detached(command, log)
        record.replace(ProcessRecord("postgres", pid, command, str(log), port, url))
        self.state.save(record)
        if not processes.wait_until(lambda: postgres_ready(url), START_TIMEOUT):
            raise datastores.DatastoreError(f"postgres did not become ready; see {log}")

    def _ensure_redis(self, record: StateRecord) -> None:
        port = self._port(record, "redis")
        url = datastores.redis_url(port)
        if self._running(record, "redis", lambda: redis_ready(url)):
            self.progress(f"redis: already running on 127.0.0.1:{port}")
            return
        log = self.state.log("redis")
        command = datastores.redis_command(self.state.sub("redis"), port)
        self.progress(f"redis: starting on 127.0.0.1:{port}")
        pid = processes.start_detached(command, log)
        record.replace(ProcessRecord("redis", pid, command, str(log), port, url))
        self.state.save(record)
        if not processes.wait_until(lambda: redis_ready(url), START_TIMEOUT):
            raise datastores.DatastoreError(f"redis did not become ready; see {log}")

    def status(self) -> list[Health]:
        record = self.state.load()
        checks: dict[str, Callable[[str], bool]] = {"postgres": postgres_ready, "redis": redis_ready}
        report = []
        for process in record.processes:
            check = checks.get(process.name)
            alive = process.pid == 0 or processes.is_alive(process.pid)
            healthy = alive and (check is None or check(process.url))
            where = f"pid {process.pid}, " if process.pid else "external, "
            report.append(Health(process.name, healthy, f"{where}{process.url}"))
        return report

    def down(self) -> list[str]:
        """Stops everything this state directory started, newest first. Data is kept."""
        record = self.state.load()
        stopped = []
        for process in reversed(record.processes):
            # PostgreSQL's SIGTERM waits for clients to leave; SIGINT is its clean fast shutdown.
            signum = signal.SIGINT if process.name == "postgres" else signal.SIGTERM
            if process.pid and processes.stop(process.pid, signum=signum):
                stopped.append(process.name)
        record.processes = []
        if self.state.path.exists():
            self.state.save(record)
        return stopped
