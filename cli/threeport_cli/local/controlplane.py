"""Brings the local control plane up, reports on it and takes it down (``tptctl up|status|down``).

``up`` is idempotent: what already runs healthy is kept, what died is started again on the port
it had, so clients' URLs stay valid across restarts.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import grpc
import psycopg
import redis
from grpc_health.v1 import health_pb2, health_pb2_grpc

from threeport.clusters.v1alpha1 import cluster_pb2
from threeport.sdk import Client, NotFoundError, UnavailableError
from threeport_cli import config
from threeport_cli.config import Context
from threeport_cli.local import datastores, processes, secrets
from threeport_cli.local.statedir import ProcessRecord, StateDir, StateRecord

# The control-plane services. `up` starts those that are installed, all at once (each calls the
# others only once it serves, and retries); a failure is reported in this order, the gateway last.
# Values: the process name and the gateway's backend key.
SERVICE_PACKAGES = {
    "threeport_registry": ("registry", "REGISTRY"),
    "threeport_cluster_manager": ("cluster-manager", "CLUSTERS"),
    "threeport_addon_manager": ("addon-manager", "ADDONS"),
    "threeport_infra_provider": ("infra-provider", "INFRA"),
    "threeport_workload_delivery": ("workload-delivery", "DELIVERY"),
    "threeport_api_gateway": ("api-gateway", ""),
}
GATEWAY = "api-gateway"
LOCAL_CONTEXT = "local"
KUBESIM = "kubesim"
SIM_CLUSTER = "local"
SIM_LOCATION = "Europe:Frankfurt"
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
    """The service packages that can run (`python -m <package>` needs a ``__main__``)."""
    found = []
    for name in SERVICE_PACKAGES:
        if importlib.util.find_spec(name) is not None and importlib.util.find_spec(f"{name}.__main__"):
            found.append(name)
    return found


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


# The health entries every service keeps about its datastores (threeport_runtime's
# rpc/datastore_health.py; the CLI talks to services only through their APIs).
DATASTORE_HEALTH = {"threeport.datastore.PostgreSQL": "database (PostgreSQL)",
                    "threeport.datastore.Redis": "event bus (Redis)"}


def unreachable_datastores(address: str) -> list[str]:
    """The datastores the service at ``address`` reports it cannot reach (NOT_SERVING)."""
    channel = grpc.insecure_channel(address)
    try:
        stub = health_pb2_grpc.HealthStub(channel)
        found = []
        for service, what in DATASTORE_HEALTH.items():
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=2)
            except grpc.RpcError:
                continue  # not reported (yet): nothing to say
            if reply.status == health_pb2.HealthCheckResponse.NOT_SERVING:
                found.append(what)
        return found
    finally:
        channel.close()


def grpc_serving(address: str) -> bool:
    """True when the standard gRPC health service at ``address`` says SERVING."""
    channel = grpc.insecure_channel(address)
    try:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
    except grpc.RpcError:
        return False
    finally:
        channel.close()


# What ``up`` starts before the services and ``down`` stops after them.
RUN_BEFORE_SERVICES = frozenset({"postgres", "redis", KUBESIM})


def _stop(process: ProcessRecord) -> bool:
    """Stops one recorded process; True when it is gone."""
    # PostgreSQL's SIGTERM waits for clients to leave; SIGINT is its clean fast shutdown.
    signum = signal.SIGINT if process.name == "postgres" else signal.SIGTERM
    return bool(process.pid) and processes.stop(process.pid, signum=signum)


class LocalControlPlane:
    """The processes of one state directory."""

    def __init__(self, state_dir: Path, progress: Progress, kubesim_speed: float | None = None) -> None:
        self.state = StateDir(state_dir)
        self.progress = progress
        # Simulated time of the emulator (its own default: real time); benchmarks speed it up.
        self.kubesim_speed = kubesim_speed
        # Services start in threads of their own (``_ensure_services``); they share the record.
        self._record_lock = threading.Lock()

    def up(
        self, database_url: str | None = None, redis_url: str | None = None, with_sim_cluster: bool = False,
        gateway_port: int | None = None,
    ) -> StateRecord:
        self.state.ensure()
        record = self.state.load()
        if gateway_port is not None:
            self._use_gateway_port(record, gateway_port)
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
        # Services read the emulator's address at start, so a newly started emulator means
        # restarting the services that run without it.
        restart = False
        if with_sim_cluster or record.find(KUBESIM) is not None:
            restart = self._ensure_kubesim(record)
        self.state.save(record)
        services = installed_services()
        if not services:
            self.progress("no control-plane services are installed yet; datastores are up")
        self._ensure_services(record, services, restart=restart)
        if with_sim_cluster:
            self._ensure_sim_cluster(record)
        return record

    def _use_gateway_port(self, record: StateRecord, port: int) -> None:
        """Makes ``port`` the gateway's, for this and every later ``up``; a gateway running on
        another port is stopped here and started on the new one below."""
        if record.ports.get(GATEWAY) == port:
            return
        if processes.port_answers(port):
            raise datastores.DatastoreError(
                f"--port {port}: another program listens on 127.0.0.1:{port}; choose another port")
        running = record.find(GATEWAY)
        if running is not None and running.pid and processes.is_alive(running.pid):
            self.progress(f"{GATEWAY}: moving from 127.0.0.1:{record.ports.get(GATEWAY)} to 127.0.0.1:{port}")
            processes.stop(running.pid)
        record.ports[GATEWAY] = port
        self.state.save(record)

    def _ensure_kubesim(self, record: StateRecord) -> bool:
        """The Kubernetes API emulator, so that a laptop has a cluster to deploy to. True if it
        had to be started."""
        port = self._port(record, KUBESIM)
        url = f"http://127.0.0.1:{port}"
        if self._running(record, KUBESIM, lambda: http_ok(f"{url}/healthz")):
            self.progress(f"{KUBESIM}: already running on 127.0.0.1:{port}")
            return False
        folder = self.state.sub("kubesim")
        folder.mkdir(exist_ok=True, mode=0o700)
        command = [
            sys.executable, "-m", "threeport_kubesim", "serve", "--port", str(port),
            "--kubeconfig-dir", str(folder / "kubeconfigs"), "--state-dir", str(folder / "state"),
        ]
        if self.kubesim_speed is not None:
            command += ["--speed", str(self.kubesim_speed)]
        log = self.state.log(KUBESIM)
        self.progress(f"{KUBESIM}: starting the Kubernetes API emulator on 127.0.0.1:{port}")
        pid = processes.start_detached(command, log)
        record.replace(ProcessRecord(KUBESIM, pid, command, str(log), port, url))
        self.state.save(record)
        if not processes.wait_until(lambda: http_ok(f"{url}/healthz"), START_TIMEOUT):
            raise datastores.DatastoreError(f"{KUBESIM} did not become ready; see {log}")
        return True

    def _ensure_sim_cluster(self, record: StateRecord) -> None:
        """Registers the `local` sim cluster through the gateway (once) and waits for Ready."""
        gateway = record.find(GATEWAY)
        if gateway is None or record.find("cluster-manager") is None:
            raise datastores.DatastoreError("--with-sim-cluster needs the api-gateway and the cluster-manager")
        context = config.resolve(config.load(), LOCAL_CONTEXT)
        name = f"clusters/{SIM_CLUSTER}"
        with Client(context.server, token=context.token) as client:
            try:
                cluster = client.cluster.get_cluster(name=name)
            except NotFoundError:
                self.progress(f"cluster {SIM_CLUSTER}: registering a sim cluster")
                spec = cluster_pb2.ClusterSpec(provider="sim", location=SIM_LOCATION)
                client.cluster.create_cluster(cluster_id=SIM_CLUSTER, cluster=cluster_pb2.Cluster(spec=spec))
            else:
                self._rebuild_if_lost(record, client, cluster)
            client.wait_ready(name, timeout=START_TIMEOUT)
        self.progress(f"cluster {SIM_CLUSTER}: ready")

    def _rebuild_if_lost(self, record: StateRecord, client: Client, cluster: cluster_pb2.Cluster) -> None:
        """A registered sim cluster the emulator no longer has (its state was removed, or it
        predates the emulator's state directory) is provisioned again: the cluster-manager
        re-creates what its provider lost when it next looks, which a restart makes now. Done
        once the cluster points at the rebuilt one."""
        kubesim = record.find(KUBESIM)
        provider, _, sim_name = cluster.status.infrastructure.partition("/")
        if kubesim is None or provider != "sim" or not sim_name:
            return
        cluster_url = f"{kubesim.url}/clusters/{sim_name}"
        if http_ok(cluster_url):
            return
        self.progress(f"cluster {SIM_CLUSTER}: the emulator lost {sim_name}; rebuilding it")
        self._ensure_service(record, "threeport_cluster_manager", restart=True)

        def rebuilt() -> bool:
            try:
                with urllib.request.urlopen(cluster_url, timeout=2) as response:
                    server = json.loads(response.read())["server"]
                # The gateway may still be reconnecting to the restarted cluster-manager.
                return bool(client.cluster.get_cluster(name=cluster.name).status.endpoint == server)
            except (OSError, UnavailableError):
                return False

        if not processes.wait_until(rebuilt, START_TIMEOUT):
            raise datastores.DatastoreError(
                f"cluster {SIM_CLUSTER} was not rebuilt in the emulator; see {self.state.log('cluster-manager')}")

    def _service_env(self, record: StateRecord, name: str) -> dict[str, str]:
        postgres, redis_process = record.find("postgres"), record.find("redis")
        assert postgres is not None and redis_process is not None
        env = dict(os.environ)
        env.update({
            "THREEPORT_DATABASE_URL": postgres.url,
            "THREEPORT_REDIS_URL": redis_process.url,
            "THREEPORT_LISTEN_ADDRESS": f"127.0.0.1:{record.ports[name]}",
            "THREEPORT_SERVICE_CREDENTIAL": secrets.service_credential(self.state.path),
            "THREEPORT_ENCRYPTION_KEYS_FILE": str(secrets.encryption_keys_file(self.state.path)),
        })
        kubesim = record.find(KUBESIM)
        if kubesim is not None:
            env["THREEPORT_KUBESIM_URL"] = kubesim.url
        # Every service may call others (delivery calls the registry and the cluster-manager), so
        # each learns where all of them listen; ports were chosen before any started.
        for package in installed_services():
            backend, key = SERVICE_PACKAGES[package]
            if key:
                env[f"THREEPORT_BACKEND_{key}"] = f"127.0.0.1:{self._port(record, backend)}"
        if name == GATEWAY:
            env["THREEPORT_GATEWAY_BOOTSTRAP_TOKEN_FILE"] = str(self.state.sub("admin-token"))
        return env

    def _ensure_services(self, record: StateRecord, packages: list[str], restart: bool) -> None:
        """Starts the services at once, each running its migrations and then serving, and waits for
        every one. A start is mostly a Python process importing its packages: one after another
        kept one core busy and the other idle (six services took ~17 s on two cores). The
        first failure in start order is raised once every start has ended; the services that
        did start keep running, as after a failed ``up`` before."""
        with self._record_lock:
            for package in packages:  # every port is chosen before any service learns the others'
                self._port(record, SERVICE_PACKAGES[package][0])
            self.state.save(record)
        if not packages:
            return
        with ThreadPoolExecutor(max_workers=len(packages), thread_name_prefix="up") as starts:
            started = [starts.submit(self._ensure_service, record, package, restart) for package in packages]
        for start in started:
            if (error := start.exception()) is not None:
                raise error

    def _ensure_service(self, record: StateRecord, package: str, restart: bool = False) -> None:
        name = SERVICE_PACKAGES[package][0]
        port = self._port(record, name)
        address = f"127.0.0.1:{port}"
        existing = record.find(name)
        if self._running(record, name, lambda: grpc_serving(address)):
            if not restart:
                self.progress(f"{name}: already running on {address}")
                return
            assert existing is not None
            self.progress(f"{name}: restarting to use the emulator")
            processes.stop(existing.pid)
        log = self.state.log(name)
        # The log is appended to on every start: an error quotes what this start wrote.
        written_before = log.stat().st_size if log.exists() else 0
        env = self._service_env(record, name)
        self.progress(f"{name}: applying database migrations")
        with log.open("ab") as output:
            migrated = subprocess.run([sys.executable, "-m", package, "migrate"], env=env,
                                      stdout=output, stderr=subprocess.STDOUT, check=False)
        if migrated.returncode != 0:
            raise datastores.DatastoreError(
                f"{name}: migrations failed; see {log}{processes.log_tail(log, written_before)}")
        command = [sys.executable, "-m", package, "serve"]
        self.progress(f"{name}: starting on {address}")
        pid = processes.start_detached(command, log, env)
        with self._record_lock:
            record.replace(ProcessRecord(name, pid, command, str(log), port, address))
            self.state.save(record)
        started = processes.wait_until(
            lambda: grpc_serving(address) or not processes.is_alive(pid), START_TIMEOUT)
        if not started:
            raise datastores.DatastoreError(
                f"{name} did not become healthy; see {log}{processes.log_tail(log, written_before)}")
        if not processes.is_alive(pid):
            raise datastores.DatastoreError(
                f"{name} exited at start; see {log}{processes.log_tail(log, written_before)}")
        if name == GATEWAY:
            self._save_admin_context(address)

    def _save_admin_context(self, address: str) -> None:
        """The first start of the gateway writes the admin token once; turn it into a context."""
        token_file = self.state.sub("admin-token")
        if not token_file.exists():
            return
        loaded = config.load()
        existing = loaded.find(LOCAL_CONTEXT)
        token = token_file.read_text().strip()
        loaded.upsert(Context(LOCAL_CONTEXT, address, token, existing.project if existing else ""))
        loaded.current_context = LOCAL_CONTEXT
        path = config.save(loaded)
        self.progress(f"context {LOCAL_CONTEXT!r} (operator) saved in {path} and made current")

    def _port(self, record: StateRecord, name: str) -> int:
        if name not in record.ports:
            record.ports[name] = processes.free_port()
        return record.ports[name]

    def _running(self, record: StateRecord, name: str, ready: Callable[[], bool]) -> bool:
        existing = record.find(name)
        return bool(existing and existing.pid and processes.is_alive(existing.pid) and ready())

    def _ensure_postgres(self, record: StateRecord) -> None:
        port = self._port(record, "postgres")
        password_file = secrets.datastore_password_file(self.state.path)
        password = password_file.read_text().strip()
        url = datastores.database_url(port, password)
        data_dir = self.state.sub("postgres") / "data"
        if self._running(record, "postgres", lambda: postgres_ready(url)):
            self.progress(f"postgres: already running on 127.0.0.1:{port}")
            self._require_password(url, data_dir, password)
            return
        log = self.state.log("postgres")
        if not (data_dir / "PG_VERSION").exists():
            self.progress("postgres: creating the database cluster (first start)")
        datastores.init_postgres(data_dir, log, password_file)
        command = datastores.postgres_command(data_dir, port)
        self.progress(f"postgres: starting on 127.0.0.1:{port}")
        pid = processes.start_detached(command, log)
        record.replace(ProcessRecord("postgres", pid, command, str(log), port, url))
        self.state.save(record)
        if not processes.wait_until(lambda: postgres_ready(url), START_TIMEOUT):
            raise datastores.DatastoreError(f"postgres did not become ready; see {log}")
        self._require_password(url, data_dir, password)

    def _require_password(self, url: str, data_dir: Path, password: str) -> None:
        if datastores.require_postgres_password(url, data_dir, password):
            self.progress("postgres: now requires the password in datastore-password (it trusted every local user)")

    def _ensure_redis(self, record: StateRecord) -> None:
        port = self._port(record, "redis")
        password = secrets.datastore_password_file(self.state.path).read_text().strip()
        url = datastores.redis_url(port, password)
        if self._running(record, "redis", lambda: redis_ready(url)):
            self.progress(f"redis: already running on 127.0.0.1:{port}")
            return
        existing = record.find("redis")
        if existing and existing.pid and processes.is_alive(existing.pid):
            # Started before it required a password: restart it with one (its data is kept).
            processes.stop(existing.pid)
        log = self.state.log("redis")
        command = datastores.redis_command(self.state.sub("redis"), port, password)
        self.progress(f"redis: starting on 127.0.0.1:{port}")
        pid = processes.start_detached(command, log)
        record.replace(ProcessRecord("redis", pid, command, str(log), port, url))
        self.state.save(record)
        if not processes.wait_until(lambda: redis_ready(url), START_TIMEOUT):
            raise datastores.DatastoreError(f"redis did not become ready; see {log}")

    def status(self) -> list[Health]:
        record = self.state.load()
        checks: dict[str, Callable[[str], bool]] = {
            "postgres": postgres_ready, "redis": redis_ready, KUBESIM: lambda url: http_ok(f"{url}/healthz")}
        for name, _key in SERVICE_PACKAGES.values():
            checks[name] = grpc_serving
        report = []
        services = {name for name, _key in SERVICE_PACKAGES.values()}
        for process in record.processes:
            check = checks.get(process.name)
            alive = process.pid == 0 or processes.is_alive(process.pid)
            healthy = alive and (check is None or check(process.url))
            where = f"pid {process.pid}, " if process.pid else "external, "
            detail = f"{where}{datastores.without_password(process.url)}"
            if healthy and process.name in services:
                unreachable = unreachable_datastores(process.url)
                if unreachable:
                    healthy = False
                    detail = f"cannot reach its {' and '.join(unreachable)}; {detail}"
            report.append(Health(process.name, healthy, detail))
        return report

    def down(self) -> list[str]:
        """Stops everything this state directory started: the services at once (each takes a
        second or two to finish what it is doing and close its connections, and one after
        another that added up), then the emulator and the datastores they used, newest first.
        Data is kept."""
        record = self.state.load()
        newest_first = list(reversed(record.processes))
        services = [p for p in newest_first if p.name not in RUN_BEFORE_SERVICES]
        stopped = []
        if services:
            with ThreadPoolExecutor(max_workers=len(services), thread_name_prefix="down") as stops:
                stopped += [p.name for p, ended in zip(services, stops.map(_stop, services), strict=True) if ended]
        stopped += [p.name for p in newest_first if p.name in RUN_BEFORE_SERVICES and _stop(p)]
        record.processes = []
        if self.state.path.exists():
            self.state.save(record)
        return stopped
