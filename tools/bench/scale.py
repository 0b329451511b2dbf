"""Scale benchmark (issue 14, DESIGN §11): N deployments of a 2-component app over M emulated
clusters, with the control plane started exactly as ``tptctl up`` starts it.

Run: ``python tools/bench/scale.py --deployments 300 --clusters 10``

Every service runs in its own process with production settings, started by the same code as
``tptctl up --with-sim-cluster`` (``threeport_cli.local``) in a throwaway state directory with its
own PostgreSQL, Redis and Kubernetes API emulator, so the counters below see this run only; the
one difference is that each service's metrics port is open (``MeteredControlPlane``), so that the
services count their own reconciles and gRPC calls. The clusters are the ``local`` sim cluster
plus M-1 more created through the gateway (provider ``sim``). Phases, each printed as it ends:

1. ``ready``: one app at a time, create -> Ready (``--samples``), polled every 10 ms.
2. ``baseline``: the objects delivery applied for one of those apps, read back and server-side
   applied straight to a fresh emulated cluster N times (16 at once), until every Deployment is
   available: what Kubernetes alone takes for the same work (``baseline_apply_per_s``).
3. ``converge``: N deployments created at once; time until all are Ready; create -> Ready of each
   (seen on WatchDeployments, as ``tptctl get deployments -w`` sees it) gives
   ``burst_ready_p50_s``/``burst_ready_p99_s``.
4. ``idle``: once no work queue holds a key (a periodic resync that fell in the burst runs after
   it), ``--idle-seconds`` with nothing changing; CPU of the four services (``idle_cpu_cores``;
   ``idle_cpu_cores_all`` adds datastores and emulator) and their RSS.
5. ``periodic``: two full-resync requests with nothing changed (the controller's resync
   counter, as below); the second is timed and counted (``periodic_resync_s``,
   ``periodic_resync_grpc_per_reconcile``): what every periodic resync costs once one has listed
   these deployments' resources (the first has nothing to compare delivery's caches with).
6. ``resync``: workload-delivery is restarted (its timers are gone, so every deployment is
   reconciled once by the start-up resync); time from the new process's start (imports
   included, migrations not) until it made one deployment reconcile per deployment, and the
   Kubernetes writes meanwhile (none expected). Requeues of keys done early (drift checks,
   30 s) count too, so a resync longer than that is slightly under-measured.

With ``--delivery-replicas N`` (default 1), N-1 more workload-delivery processes run against the
same database and Redis (own gRPC and metrics ports; the gateway keeps using the first), and the
share of deployment reconciles each made is printed per phase (``delivery_share``,
``resync_delivery_share``: the first replica's first). Then the resync phase restarts nothing:
it asks every replica for a full resync of its share (the controller's resync counter, as a
replica does after re-creating a lost consumer group) and times it from the request.

Round trips are counted, not sampled: reconciles are each service's own
``threeport_reconcile_count_total`` by controller (every outcome); gRPC calls between services
are the backends' ``threeport_rpc_server_calls_total`` by method less the same method's calls at
the gateway (what users asked for); SQL statements are ``pg_stat_statements`` calls (BEGIN and
COMMIT included; the PostgreSQL cluster is created with it loaded before ``up`` starts it),
transactions and connections opened ``pg_stat_database``'s (``xact_*``, ``sessions``; a server
process reports its transactions there lazily, up to a second or so late and the rest when it
exits, so a short phase's transactions are approximate); Redis
is ``total_commands_processed`` (consumers' blocking reads included); Kubernetes writes are the
growth of every cluster's resourceVersion. A process restarted during a phase counts from 0.
Last line: ``RESULT key=value ...``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import random
import shutil
import ssl
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
import redis
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from threeport.clusters.v1alpha1 import cluster_pb2
from threeport.delivery.v1alpha1 import deployment_pb2
from threeport.gateway.v1alpha1 import project_pb2
from threeport.registry.v1alpha1 import application_pb2, environment_pb2
from threeport.sdk import ApiError, AsyncClient, OutOfRangeError, ResourceExhaustedError
from threeport_cli import config
from threeport_cli.local import datastores, processes, secrets
from threeport_cli.local.controlplane import (
    GATEWAY,
    KUBESIM,
    LOCAL_CONTEXT,
    SERVICE_PACKAGES,
    SIM_LOCATION,
    LocalControlPlane,
    grpc_serving,
)
from threeport_cli.local.statedir import StateRecord
from threeport_kubesim.control import ClusterInfo, ControlClient

PROJECT = "projects/bench"
ENVIRONMENT = "dev"
DELIVERY = "workload-delivery"
DEPLOYMENT_CONTROLLER = "delivery.deployment"
SERVICES = [name for name, _key in SERVICE_PACKAGES.values()]
MANAGED = "app.kubernetes.io/managed-by=threeport"
APP = application_pb2.ApplicationSpec(
    components={
        "api": application_pb2.Component(
            image="registry.example.com/bench/api:1",
            replicas=2,
            ports=[application_pb2.Port(name="http", port=80)],
            env={"MODE": "bench"},
            resources=application_pb2.Resources(cpu="10m", memory="16Mi"),
        ),
        "worker": application_pb2.Component(
            image="registry.example.com/bench/worker:1",
            resources=application_pb2.Resources(cpu="5m", memory="8Mi"),
        ),
    }
)
# Namespaced kinds delivery applies (the Namespace itself is cluster-scoped), workloads last:
# (collection path under the namespace, apiVersion, kind). Lists leave both out of their items.
KINDS = [
    ("api/v1", "serviceaccounts", "v1", "ServiceAccount"),
    ("api/v1", "configmaps", "v1", "ConfigMap"),
    ("api/v1", "secrets", "v1", "Secret"),
    ("api/v1", "services", "v1", "Service"),
    ("apis/apps/v1", "statefulsets", "apps/v1", "StatefulSet"),
    ("apis/apps/v1", "deployments", "apps/v1", "Deployment"),
]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def is_ready(resource: Any) -> bool:
    return any(
        c.type == "Ready" and c.status == 1 and c.observed_generation == resource.generation
        for c in resource.conditions
    )


async def in_parallel(count: int, work: Callable[[int], Awaitable[None]], width: int = 16) -> None:
    """Runs ``work(0..count-1)``, ``width`` at a time. A call the gateway's rate limit refused
    (nothing was done) is made again after the delay it asked for: the SDK retries a throttled
    call a few times only, and 16 callers at once outrun the default limit (50/s per principal)."""
    gate = asyncio.Semaphore(width)

    async def one(index: int) -> None:
        async with gate:
            while True:
                try:
                    await work(index)
                    return
                except ResourceExhaustedError as refused:
                    await asyncio.sleep(max(refused.retry_delay or 0.0, 0.05) * random.uniform(1.0, 2.0))

    await asyncio.gather(*(one(index) for index in range(count)))


# -- counters -----------------------------------------------------------------------------------


Scrape = dict[str, dict[tuple[str, str], int]]  # process -> (metric sample, label) -> value


@dataclass
class Counters:
    """One reading of everything counted (see the module docstring)."""

    at: float
    reconciles_by_process: dict[tuple[str, str], int]  # (process, controller) -> reconciles
    grpc_by_process: dict[tuple[str, str], int]  # (process, rpc method) -> server calls
    sql_statements: int
    sql_transactions: int
    sql_connections: int  # PostgreSQL sessions opened (the meter's own not counted)
    redis_commands: int
    kube_writes: int

    @property
    def reconciles(self) -> dict[str, int]:
        """Reconciles by controller, every process (and replica) together."""
        total: dict[str, int] = {}
        for (_process, controller), value in self.reconciles_by_process.items():
            total[controller] = total.get(controller, 0) + value
        return total

    @property
    def internal_grpc_calls(self) -> int:
        return sum(self.internal_grpc_by_method.values())

    @property
    def internal_grpc_by_method(self) -> dict[str, int]:
        """Calls the services made to each other, by method: every backend's server calls, less
        those the gateway forwarded from users (the same method counted at the gateway)."""
        gateway: dict[str, int] = {}
        backends: dict[str, int] = {}
        for (process, method), value in self.grpc_by_process.items():
            into = gateway if process == GATEWAY else backends
            into[method] = into.get(method, 0) + value
        internal = {method: value - gateway.get(method, 0) for method, value in backends.items()}
        return {method: value for method, value in internal.items() if value > 0}

    def describe_grpc(self) -> str:
        ranked = sorted(self.internal_grpc_by_method.items(), key=lambda item: -item[1])
        return ", ".join(f"{method.rsplit('/', 1)[-1]} {value}" for method, value in ranked[:10]) or "none"

    def minus(self, before: Counters) -> Counters:
        return Counters(
            self.at - before.at,
            _grown(self.reconciles_by_process, before.reconciles_by_process),
            _grown(self.grpc_by_process, before.grpc_by_process),
            self.sql_statements - before.sql_statements,
            self.sql_transactions - before.sql_transactions,
            self.sql_connections - before.sql_connections,
            self.redis_commands - before.redis_commands,
            self.kube_writes - before.kube_writes,
        )

    def restarted(self, process: str) -> Counters:
        """This reading as if ``process`` had just started (a restarted process counts from 0)."""
        return replace(
            self,
            reconciles_by_process={k: v for k, v in self.reconciles_by_process.items() if k[0] != process},
            grpc_by_process={k: v for k, v in self.grpc_by_process.items() if k[0] != process},
        )

    def describe(self) -> str:
        total = sum(self.reconciles.values())
        per = f"{total} reconciles ({', '.join(f'{k} {v}' for k, v in sorted(self.reconciles.items()) if v)})"
        if not total:
            return (f"{per}; {self.sql_statements} SQL statements, {self.redis_commands} Redis commands, "
                    f"{self.internal_grpc_calls} gRPC calls between services")
        return (
            f"{per}; per reconcile: {self.sql_statements / total:.1f} SQL statements "
            f"({self.sql_transactions / total:.1f} transactions), {self.redis_commands / total:.1f} Redis "
            f"commands, {self.internal_grpc_calls / total:.2f} gRPC calls between services; "
            f"{self.kube_writes} Kubernetes writes; {self.sql_connections} PostgreSQL connections opened"
        )


def _grown(now: dict[tuple[str, str], int], before: dict[tuple[str, str], int]) -> dict[tuple[str, str], int]:
    """Growth of each counter; a process restarted meanwhile (its counter went down) counts from 0."""
    return {key: value - before.get(key, 0) if value >= before.get(key, 0) else value for key, value in now.items()}


def samples(url: str) -> Iterator[Sample]:
    """Every sample one metrics endpoint exposes now."""
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    for family in text_string_to_metric_families(text):
        yield from family.samples


def scrape(url: str) -> tuple[dict[str, int], dict[str, int]]:
    """Reconciles by controller and server calls by gRPC method from one metrics endpoint."""
    reconciles: dict[str, int] = {}
    calls: dict[str, int] = {}
    for sample in samples(url):
        if sample.name == "threeport_reconcile_count_total":
            controller = sample.labels.get("controller", "")
            reconciles[controller] = reconciles.get(controller, 0) + int(sample.value)
        elif sample.name == "threeport_rpc_server_calls_total":
            method = sample.labels.get("rpc_method", "")
            calls[method] = calls.get(method, 0) + int(sample.value)
    return reconciles, calls


def queued(url: str) -> int:
    """Keys waiting in every work queue of one process (``threeport_reconcile_queue_depth``)."""
    return sum(int(sample.value) for sample in samples(url) if sample.name == "threeport_reconcile_queue_depth")


class Meter:
    """Reads the counters of this run's PostgreSQL, Redis and clusters."""

    def __init__(self, database_url: str, redis_url: str, kube: list[Kube], metrics: dict[str, str]):
        self._database_url = database_url.replace("postgresql+psycopg://", "postgresql://")
        self._redis = redis.Redis.from_url(redis_url)
        self.kube = kube
        self.metrics = metrics  # process name -> its /metrics URL (replicas added as they start)
        self._readings = 0  # sessions the meter itself opened to read the counters

    def _sql(self) -> tuple[int, int, int]:
        """Statements the services sent (BEGIN, COMMIT and pool pings included), transactions,
        and sessions opened (less the meter's own: one per reading)."""
        with psycopg.connect(self._database_url, autocommit=True) as db:
            db.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            statements = db.execute(
                "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements JOIN pg_database d ON d.oid = dbid "
                "WHERE d.datname = current_database() AND query NOT LIKE '%pg_stat%' "
                "AND query NOT LIKE 'CREATE EXTENSION%'"
            ).fetchone()
            database = db.execute(
                "SELECT xact_commit + xact_rollback, sessions FROM pg_stat_database WHERE datname = current_database()"
            ).fetchone()
        self._readings += 1
        transactions, sessions = (int(database[0]), int(database[1])) if database else (0, 0)
        return int(statements[0]) if statements else 0, transactions, sessions - self._readings

    def statement_calls(self) -> dict[str, int]:
        """Calls of each distinct statement so far (``pg_stat_statements``' normalized text)."""
        self._readings += 1
        with psycopg.connect(self._database_url, autocommit=True) as db:
            rows = db.execute(
                "SELECT query, sum(calls) FROM pg_stat_statements JOIN pg_database d ON d.oid = dbid "
                "WHERE d.datname = current_database() GROUP BY query"
            ).fetchall()
        return {str(query): int(calls) for query, calls in rows}

    def _scrape(self) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], int]]:
        """Every process's reconciles by controller and server calls by method."""
        reconciles: dict[tuple[str, str], int] = {}
        calls: dict[tuple[str, str], int] = {}
        for process, url in self.metrics.items():
            try:
                by_controller, by_method = scrape(url)
            except OSError:
                continue  # restarting: its counters start again from 0 (see ``_grown``)
            reconciles.update({(process, k): v for k, v in by_controller.items()})
            calls.update({(process, k): v for k, v in by_method.items()})
        return reconciles, calls

    def queued(self) -> int:
        """Keys waiting to run in every process's work queues now."""
        total = 0
        for url in self.metrics.values():
            with contextlib.suppress(OSError):
                total += queued(url)
        return total

    def request_resync(self, controller: str) -> None:
        """Increments the controller's resync counter (found beside its membership set)."""
        members = next(self._redis.scan_iter(match=f"*{controller}:members", count=1000))
        self._redis.incr(members.decode().removesuffix(":members") + ":resync")

    def backends(self) -> int:
        """Server processes connected to this run's database now."""
        with psycopg.connect(self._database_url, autocommit=True) as db:
            found = db.execute("SELECT numbackends FROM pg_stat_database WHERE datname = current_database()").fetchone()
        self._readings += 1
        return int(found[0]) if found else 0

    def backends_settled(self, interval: float = 0.2, within: float = 10.0) -> None:
        """Returns once the number of connected server processes stopped falling (two readings
        ``interval`` apart agree), or after ``within`` seconds."""
        deadline = time.monotonic() + within
        previous = self.backends()
        while time.monotonic() < deadline:
            time.sleep(interval)
            now = self.backends()
            if now >= previous:
                return
            previous = now

    def _redis_commands(self) -> int:
        return int(self._redis.info("stats")["total_commands_processed"])

    async def read(self) -> Counters:
        statements, transactions, connections = await asyncio.to_thread(self._sql)
        reconciles, calls = await asyncio.to_thread(self._scrape)
        commands = await asyncio.to_thread(self._redis_commands)
        versions = await asyncio.gather(*(cluster.resource_version() for cluster in self.kube))
        return Counters(time.monotonic(), reconciles, calls, statements, transactions, connections, commands,
                        sum(versions))

    def close(self) -> None:
        self._redis.close()


# -- Kubernetes over plain HTTP (the emulator is the judge of the baseline) ---------------------


class Kube:
    """Just enough of the Kubernetes REST API: list, server-side apply, resourceVersion."""

    def __init__(self, info: ClusterInfo):
        context: ssl.SSLContext | bool = False
        if info.ca_data:
            context = ssl.create_default_context(cadata=base64.b64decode(info.ca_data).decode())
        self.info = info
        self._session = aiohttp.ClientSession(
            base_url=info.server,
            headers={"Authorization": f"Bearer {info.token}"},
            connector=aiohttp.TCPConnector(ssl=context, limit=16),
        )

    async def list(self, path: str, selector: str = "") -> list[dict[str, Any]]:
        params = {"labelSelector": selector} if selector else {}
        async with self._session.get(f"/{path}", params=params) as response:
            response.raise_for_status()
            items: list[dict[str, Any]] = (await response.json())["items"]
            return items

    async def apply(self, path: str, manifest: dict[str, Any]) -> None:
        async with self._session.patch(
            f"/{path}/{manifest['metadata']['name']}",
            params={"fieldManager": "bench", "force": "true"},
            json=manifest,
            headers={"Content-Type": "application/apply-patch+yaml"},
        ) as response:
            response.raise_for_status()

    async def resource_version(self) -> int:
        async with self._session.get("/api/v1/namespaces", params={"limit": "1"}) as response:
            response.raise_for_status()
            return int((await response.json())["metadata"]["resourceVersion"])

    async def close(self) -> None:
        await self._session.close()


def _clean(manifest: dict[str, Any], namespace: str) -> dict[str, Any]:
    """The object as a client would apply it again, moved into ``namespace``."""
    metadata = manifest["metadata"]
    copy = {k: v for k, v in manifest.items() if k not in ("status", "metadata")}
    copy["metadata"] = {"name": metadata["name"], "labels": {**metadata.get("labels", {}), "bench": "baseline"}}
    if manifest["kind"] == "Namespace":
        copy["metadata"]["name"] = namespace
    else:
        copy["metadata"]["namespace"] = namespace
    if manifest["kind"] == "Service":
        copy["spec"] = {k: v for k, v in copy["spec"].items() if k not in ("clusterIP", "clusterIPs")}
    return copy


async def read_back(kube: Kube, namespace: str) -> list[tuple[str, dict[str, Any]]]:
    """What delivery applied for one deployment: (collection path, object), namespace first."""
    objects: list[tuple[str, dict[str, Any]]] = []
    for found in await kube.list("api/v1/namespaces"):
        if found["metadata"]["name"] == namespace:
            objects.append(("api/v1/namespaces", {**found, "apiVersion": "v1", "kind": "Namespace"}))
    for group, plural, api_version, kind in KINDS:
        for item in await kube.list(f"{group}/namespaces/{namespace}/{plural}", MANAGED):
            objects.append((f"{group}/namespaces/{{ns}}/{plural}", {**item, "apiVersion": api_version, "kind": kind}))
    return objects


async def baseline(control: ControlClient, template: list[tuple[str, dict[str, Any]]], count: int) -> float:
    """Deployments per second that the emulator itself takes for the same objects."""
    info = await asyncio.to_thread(control.create_cluster, f"baseline-{uuid.uuid4().hex[:6]}", tls=False)
    kube = Kube(info)
    try:
        started = time.monotonic()

        async def one(index: int) -> None:
            namespace = f"baseline-{index}"
            for path, manifest in template:
                kind_path = "api/v1/namespaces" if path == "api/v1/namespaces" else path.format(ns=namespace)
                await kube.apply(kind_path, _clean(manifest, namespace))

        await in_parallel(count, one)
        expected = sum(1 for path, _ in template if path.endswith("/deployments")) * count
        while True:
            deployments = await kube.list("apis/apps/v1/deployments", "bench=baseline")
            available = [
                d
                for d in deployments
                if (d.get("status") or {}).get("availableReplicas", 0) >= d["spec"].get("replicas", 1)
            ]
            if len(available) >= expected:
                return count / (time.monotonic() - started)
            await asyncio.sleep(0.2)
    finally:
        await kube.close()
        await asyncio.to_thread(control.delete_cluster, info.name)


# -- processes ----------------------------------------------------------------------------------


def _stat(path: Path) -> list[str]:
    return path.read_text().rsplit(")", 1)[1].split()  # fields from the 3rd on (state, ppid, ...)


def cpu_seconds(pid: int) -> float:
    """CPU time of the process and its children (PostgreSQL's backends, which are session
    leaders of their own, so the session does not find them), the children that ended
    included: their time moves to the parent's own count of its reaped children once it waits
    for them. (Without those, a backend closing during a window made PostgreSQL's CPU for it
    negative.)"""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = _stat(stat)
        except OSError:
            continue  # ended meanwhile
        if stat.parent.name == str(pid):
            ticks += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
        elif int(fields[1]) == pid:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def cpu_by_process(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each named process (``cpu_seconds``)."""
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


def cpu_used_since(pids: dict[str, int], before: dict[str, float]) -> dict[str, float]:
    """CPU seconds each named process used since ``before`` (``cpu_by_process``)."""
    return {name: used - before[name] for name, used in cpu_by_process(pids).items()}


def process_cpu_seconds() -> float:
    """This script's own CPU time (its clients: the callers of ``Deploy``, the watch)."""
    times = os.times()
    return times.user + times.system


def process_started_at(pid: int) -> float:
    """When the process started, on the ``time.monotonic()`` clock (both count from boot)."""
    ticks = int(_stat(Path(f"/proc/{pid}/stat"))[19])
    age = float(Path("/proc/uptime").read_text().split()[0]) - ticks / os.sysconf("SC_CLK_TCK")
    return time.monotonic() - age


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# -- extra workload-delivery replicas -----------------------------------------------------------


@dataclass
class DeliveryReplica:
    """A workload-delivery process besides ``up``'s, with its own gRPC and metrics ports."""

    name: str
    pid: int
    metrics_url: str


def start_delivery_replicas(control_plane: MeteredControlPlane, count: int) -> list[DeliveryReplica]:
    """Starts replicas 2..count the way ``up`` starts the first (same settings and datastores)."""
    record = control_plane.state.load()
    return [start_delivery_replica(control_plane, record, f"{DELIVERY}-{index}") for index in range(2, count + 1)]


def start_delivery_replica(control_plane: MeteredControlPlane, record: StateRecord, name: str) -> DeliveryReplica:
    address = f"127.0.0.1:{processes.free_port()}"
    metrics = f"127.0.0.1:{processes.free_port()}"
    env = control_plane._service_env(record, DELIVERY)
    env.update({"THREEPORT_LISTEN_ADDRESS": address, "THREEPORT_METRICS_LISTEN_ADDRESS": metrics})
    log_file = control_plane.state.log(name)
    pid = processes.start_detached([sys.executable, "-m", "threeport_workload_delivery", "serve"], log_file, env)
    if not processes.wait_until(lambda: grpc_serving(address) or not processes.is_alive(pid), 120):
        raise RuntimeError(f"{name} did not become healthy; see {log_file}")
    if not processes.is_alive(pid):
        raise RuntimeError(f"{name} exited at start; see {log_file}")
    log(f"{name}: serving on {address}")
    return DeliveryReplica(name, pid, f"http://{metrics}/metrics")


def delivery_shares(counts: Counters, replicas: list[DeliveryReplica]) -> str:
    """``0.34/0.33/0.33``: each delivery process's share of the deployment reconciles in
    ``counts``, the first replica (``up``'s) first."""
    names = [DELIVERY, *(replica.name for replica in replicas)]
    made = [counts.reconciles_by_process.get((name, DEPLOYMENT_CONTROLLER), 0) for name in names]
    log("delivery reconciles per replica: " + ", ".join(str(c) for c in made))
    return "/".join(f"{c / (sum(made) or 1):.2f}" for c in made)


# -- the run ------------------------------------------------------------------------------------


@dataclass
class Plane:
    control_plane: MeteredControlPlane
    client: AsyncClient
    control: ControlClient
    meter: Meter
    replicas: list[DeliveryReplica]

    def pids(self, names: list[str] | None = None) -> dict[str, int]:
        record = self.control_plane.state.load()
        found = {p.name: p.pid for p in record.processes if p.pid and (names is None or p.name in names)}
        if names is None:
            found.update({replica.name: replica.pid for replica in self.replicas})
        return found


async def wait_all_ready(
    client: AsyncClient, names: list[str], deadline: float
) -> tuple[dict[str, float], dict[str, int]]:
    """Follows WatchDeployments (as ``tptctl get deployments -w`` does) until every one of
    ``names`` is Ready; returns when each became Ready (monotonic seconds, as its change arrived)
    and how many landed on each cluster. A watch, not a poll: listing 10,000 deployments every
    second would be the heaviest load on workload-delivery."""
    seen: dict[str, float] = {}
    placed: dict[str, int] = {}
    wanted = set(names)
    version = ""
    reported = time.monotonic()
    while len(seen) < len(wanted):
        try:
            async with asyncio.timeout(max(1.0, deadline - time.monotonic())):
                async for change in client.deployment.watch_deployments(parent=PROJECT, resource_version=version):
                    version = change.resource_version or version
                    deployment = change.deployment
                    if deployment.name in wanted and deployment.name not in seen and is_ready(deployment):
                        seen[deployment.name] = time.monotonic()
                        placed[deployment.status.cluster] = placed.get(deployment.status.cluster, 0) + 1
                    if time.monotonic() - reported >= 5 or len(seen) == len(wanted):
                        reported = time.monotonic()
                        log(f"  {len(seen)}/{len(wanted)} Ready")
                    if len(seen) == len(wanted):
                        break
        except TimeoutError:
            raise TimeoutError(f"{len(wanted) - len(seen)} of {len(wanted)} deployments not Ready in time") from None
        except ApiError as error:
            log(f"  watch ended ({error}); watching again")
            if isinstance(error, OutOfRangeError):
                version = ""  # the stream no longer keeps that position: start with a new list
    return seen, placed


async def create_apps(client: AsyncClient, prefix: str, count: int) -> None:
    async def one(index: int) -> None:
        await client.application.create_application(
            parent=PROJECT, application_id=f"{prefix}{index}", application=application_pb2.Application(spec=APP)
        )

    await in_parallel(count, one)


async def ready_samples(plane: Plane, samples: int) -> tuple[list[float], deployment_pb2.Deployment]:
    await create_apps(plane.client, "lat", samples)
    latencies, last = [], None
    for index in range(samples):
        started = time.monotonic()
        created = await plane.client.deployment.deploy(
            parent=PROJECT, application=f"lat{index}", environment=ENVIRONMENT
        )
        while True:
            last = await plane.client.deployment.get_deployment(name=created.name)
            if is_ready(last):
                break
            await asyncio.sleep(0.01)
        latencies.append(time.monotonic() - started)
    assert last is not None
    return latencies, last


async def measure_baseline(plane: Plane, sample: deployment_pb2.Deployment, count: int) -> float:
    cluster = await plane.client.cluster.get_cluster(name=sample.status.cluster)
    emulated = cluster.status.infrastructure.removeprefix("sim/")
    info = next(c for c in await asyncio.to_thread(plane.control.list_clusters) if c.name == emulated)
    kube = Kube(info)
    try:
        template = await read_back(kube, sample.status.namespace)
    finally:
        await kube.close()
    log(f"baseline: {len(template)} objects per deployment, applied {count} times")
    return await baseline(plane.control, template, count)


async def converge(plane: Plane, count: int) -> tuple[float, list[float], Counters, dict[str, int]]:
    await create_apps(plane.client, "app", count)
    before = await plane.meter.read()
    statements_before = await asyncio.to_thread(plane.meter.statement_calls)
    pids = plane.pids()
    cpu_before, bench_before = cpu_by_process(pids), process_cpu_seconds()
    created: dict[str, float] = {}
    started = time.monotonic()

    async def one(index: int) -> None:
        deployment = await plane.client.deployment.deploy(
            parent=PROJECT, application=f"app{index}", environment=ENVIRONMENT
        )
        created[deployment.name] = time.monotonic()

    await in_parallel(count, one)
    log(f"converge: {count} deployments created in {time.monotonic() - started:.1f} s")
    ready_at, placed = await wait_all_ready(plane.client, list(created), started + 3 * 3600)
    elapsed = max(ready_at.values()) - started
    used = (await plane.meter.read()).minus(before)
    log_top_statements(statements_before, await asyncio.to_thread(plane.meter.statement_calls), count)
    cpu_used = cpu_used_since(pids, cpu_before) | {"bench": process_cpu_seconds() - bench_before}
    log(
        f"converge CPU (ms per deployment, {sum(cpu_used.values()) / elapsed:.2f} cores): "
        + ", ".join(f"{name} {1000 * used / count:.1f}" for name, used in sorted(cpu_used.items()))
    )
    log("placed: " + ", ".join(f"{cluster} {n}" for cluster, n in sorted(placed.items())))
    return elapsed, [ready_at[name] - created[name] for name in created], used, placed


def log_top_statements(before: dict[str, int], after: dict[str, int], deployments: int, top: int = 25) -> None:
    """The statements sent most often while converging, per deployment: where SQL round trips go."""
    grown = sorted(((calls - before.get(query, 0), query) for query, calls in after.items()), reverse=True)
    for calls, query in grown[:top]:
        log(f"converge SQL: {calls / deployments:5.2f} per deployment: {' '.join(query.split())[:160]}")


async def settle(plane: Plane, within: float = 600.0) -> None:
    """Waits until no work queue holds a key, twice in a row a second apart: a periodic resync
    that came while the burst converged queued its keys behind it (they wait while keys under
    way are ready) and runs after it, which the first idle runs measured as idle cost."""
    started = time.monotonic()
    empty = 0
    while empty < 2 and time.monotonic() - started < within:
        empty = empty + 1 if await asyncio.to_thread(plane.meter.queued) == 0 else 0
        await asyncio.sleep(1.0)
    log(f"idle: the work queues were empty after {time.monotonic() - started:.0f} s")


async def idle(plane: Plane, seconds: float) -> tuple[float, float, float, Counters]:
    await settle(plane)
    pids = plane.pids()
    services = {name: pid for name, pid in pids.items() if name in SERVICES or name.startswith(f"{DELIVERY}-")}
    before_counts = await plane.meter.read()
    before = cpu_by_process(pids)
    started = time.monotonic()
    await asyncio.sleep(seconds)
    elapsed = time.monotonic() - started
    used = cpu_used_since(pids, before)
    counts = (await plane.meter.read()).minus(before_counts)
    rss = {name: rss_mb(pid) for name, pid in services.items()}
    log("idle CPU (cores): " + ", ".join(f"{name} {used[name] / elapsed:.3f}" for name in sorted(used)))
    log("RSS (MB): " + ", ".join(f"{name} {rss[name]:.0f}" for name in sorted(rss)))
    service_cores = sum(used[name] for name in services) / elapsed
    return service_cores, sum(used.values()) / elapsed, max(rss.values()), counts


async def deployment_reconciles(plane: Plane, before: Counters, started: float, count: int) -> tuple[float, Counters]:
    """Seconds from ``started`` until ``count`` deployment reconciles were made since ``before``."""
    while True:
        now = await plane.meter.read()
        done = now.reconciles.get(DEPLOYMENT_CONTROLLER, 0) - before.reconciles.get(DEPLOYMENT_CONTROLLER, 0)
        if done >= count:
            return time.monotonic() - started, now.minus(before)
        if time.monotonic() - started > 3600:
            raise TimeoutError(f"resync reconciled {done} of {count} deployments in an hour")
        await asyncio.sleep(0.25)


async def resync(plane: Plane, count: int) -> tuple[float, Counters]:
    """Seconds from the restarted process's start (imports included, migrations not) until it
    made ``count`` deployment reconciles.

    The counters are read once the stopped process's PostgreSQL server processes are gone:
    a server process reports its transactions to ``pg_stat_database`` lazily and the rest when
    it exits, so a reading before the stop charged the stopped process's unreported
    transactions (~10 per deployment) to the restarted one."""
    await asyncio.to_thread(processes.stop, plane.pids([DELIVERY])[DELIVERY])
    await asyncio.to_thread(plane.meter.backends_settled)
    before = (await plane.meter.read()).restarted(DELIVERY)
    await asyncio.to_thread(plane.control_plane.up, None, None, True)
    started = process_started_at(plane.pids([DELIVERY])[DELIVERY])
    return await deployment_reconciles(plane, before, started, count)


async def resync_requested(plane: Plane, count: int) -> tuple[float, Counters]:
    """With several replicas: seconds from a full-resync request (each replica resyncs its
    share at its next heartbeat, within 5 s) until ``count`` deployment reconciles were made."""
    before = await plane.meter.read()
    started = time.monotonic()
    await asyncio.to_thread(plane.meter.request_resync, DEPLOYMENT_CONTROLLER)
    return await deployment_reconciles(plane, before, started, count)


async def periodic_resync(plane: Plane, count: int) -> tuple[float, Counters, dict[str, float]]:
    """The second of two full-resync requests with nothing changed (see the module docstring),
    and the CPU seconds each process used meanwhile: steadier than the wall-clock time on a
    shared machine, and it says which process the resync waits on."""
    await resync_requested(plane, count)
    pids = plane.pids()
    before = cpu_by_process(pids)
    elapsed, counts = await resync_requested(plane, count)
    return elapsed, counts, cpu_used_since(pids, before)


def count_statements(control_plane: LocalControlPlane) -> None:
    """Creates the PostgreSQL cluster ``up`` will find, with pg_stat_statements loaded."""
    control_plane.state.ensure()
    data_dir = control_plane.state.sub("postgres") / "data"
    password_file = secrets.datastore_password_file(control_plane.state.path)
    datastores.init_postgres(data_dir, control_plane.state.log("postgres"), password_file)
    with (data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
        conf.write("shared_preload_libraries = 'pg_stat_statements'\npg_stat_statements.max = 10000\n")


class MeteredControlPlane(LocalControlPlane):
    """``tptctl up``'s control plane with each service's metrics port open, so that reconciles and
    gRPC calls are counted by the services themselves (the only difference from ``up``)."""

    def __init__(self, state_dir: Path, progress: Callable[[str], None], kubesim_speed: float) -> None:
        super().__init__(state_dir, progress, kubesim_speed=kubesim_speed)
        self.metrics: dict[str, str] = {}  # service -> /metrics URL, kept across restarts

    def _service_env(self, record: StateRecord, name: str) -> dict[str, str]:
        env = super()._service_env(record, name)
        address = self.metrics.setdefault(name, f"127.0.0.1:{processes.free_port()}")
        env["THREEPORT_METRICS_LISTEN_ADDRESS"] = address
        return env

    def metrics_urls(self) -> dict[str, str]:
        return {name: f"http://{address}/metrics" for name, address in self.metrics.items()}


async def start(args: argparse.Namespace, state_dir: Path) -> Plane:
    control_plane = MeteredControlPlane(state_dir, lambda line: log(f"up: {line}"), kubesim_speed=args.speed)
    count_statements(control_plane)
    started = time.monotonic()
    record = await asyncio.to_thread(control_plane.up, None, None, True)
    log(f"control plane up in {time.monotonic() - started:.1f} s")
    context = config.resolve(config.load(), LOCAL_CONTEXT)
    client = AsyncClient(context.server, token=context.token)
    kubesim = record.find(KUBESIM)
    postgres, redis_process = record.find("postgres"), record.find("redis")
    assert kubesim is not None and postgres is not None and redis_process is not None
    control = ControlClient(kubesim.url)
    await client.project.create_project(project_id=PROJECT.split("/")[1], project=project_pb2.Project())
    await client.wait_ready(PROJECT, timeout=60)
    await client.environment.create_environment(
        parent=PROJECT, environment_id=ENVIRONMENT, environment=environment_pb2.Environment()
    )
    names = ["clusters/local"]
    for index in range(1, args.clusters):
        spec = cluster_pb2.ClusterSpec(provider="sim", location=SIM_LOCATION)
        made = await client.cluster.create_cluster(
            cluster_id=f"bench-{index:03d}", cluster=cluster_pb2.Cluster(spec=spec)
        )
        names.append(made.name)
    await asyncio.gather(*(client.wait_ready(name, timeout=600) for name in names))
    log(f"{len(names)} clusters Ready")
    kube = [Kube(info) for info in await asyncio.to_thread(control.list_clusters)]
    replicas = await asyncio.to_thread(start_delivery_replicas, control_plane, args.delivery_replicas)
    metrics = control_plane.metrics_urls() | {replica.name: replica.metrics_url for replica in replicas}
    return Plane(control_plane, client, control, Meter(postgres.url, redis_process.url, kube, metrics), replicas)


async def run(args: argparse.Namespace, state_dir: Path) -> dict[str, str]:
    plane = await start(args, state_dir)
    try:
        latencies, sample = await ready_samples(plane, args.samples)
        log(f"ready: p50 {percentile(latencies, 50) * 1000:.0f} ms, p99 {percentile(latencies, 99) * 1000:.0f} ms")
        baseline_rate = await measure_baseline(plane, sample, min(args.deployments, args.baseline_max))
        log(f"baseline: {baseline_rate:.1f} deployments/s straight to the emulator")
        converge_s, burst, converge_counts, placed = await converge(plane, args.deployments)
        log(f"converge: {args.deployments} in {converge_s:.1f} s; {converge_counts.describe()}")
        log(f"converge: gRPC calls between services: {converge_counts.describe_grpc()}")
        converge_share = delivery_shares(converge_counts, plane.replicas)
        idle_cores, idle_all, rss_max, idle_counts = await idle(plane, args.idle_seconds)
        log(f"idle: {idle_counts.describe()}")
        periodic_s, periodic_counts, periodic_cpu = await periodic_resync(plane, args.deployments + args.samples)
        log(f"periodic resync: {periodic_s:.1f} s; {periodic_counts.describe()}")
        log("periodic resync CPU (s): " + ", ".join(f"{n} {used:.2f}" for n, used in sorted(periodic_cpu.items())))
        log(f"periodic resync: gRPC calls between services: {periodic_counts.describe_grpc()}")
        if plane.replicas:
            resync_s, resync_counts = await resync_requested(plane, args.deployments + args.samples)
        else:
            resync_s, resync_counts = await resync(plane, args.deployments + args.samples)
        log(f"resync: {resync_s:.1f} s; {resync_counts.describe()}")
        log(f"resync: gRPC calls between services: {resync_counts.describe_grpc()}")
        resync_share = delivery_shares(resync_counts, plane.replicas)
    finally:
        await plane.client.close()
        for cluster in plane.meter.kube:
            await cluster.close()
        plane.meter.close()
        for replica in plane.replicas:
            await asyncio.to_thread(processes.stop, replica.pid)
        await asyncio.to_thread(plane.control_plane.down)
    total = sum(converge_counts.reconciles.values()) or 1
    resync_total = sum(resync_counts.reconciles.values()) or 1
    periodic_total = sum(periodic_counts.reconciles.values()) or 1
    # Every delivery replica's CPU per deployment reconcile of the timed periodic resync.
    delivery_cpu = sum(used for name, used in periodic_cpu.items() if name.startswith(DELIVERY))
    periodic_delivery_cpu_ms = 1000 * delivery_cpu / max(1, periodic_counts.reconciles.get(DEPLOYMENT_CONTROLLER, 0))
    return {
        "deployments": str(args.deployments),
        "clusters": str(args.clusters),
        "converge_s": f"{converge_s:.1f}",
        "converge_per_s": f"{args.deployments / converge_s:.2f}",
        "resync_s": f"{resync_s:.1f}",
        "idle_cpu_cores": f"{idle_cores:.3f}",
        "idle_cpu_cores_all": f"{idle_all:.3f}",
        "rss_mb_max": f"{rss_max:.0f}",
        "ready_p50_ms": f"{percentile(latencies, 50) * 1000:.0f}",
        "ready_p99_ms": f"{percentile(latencies, 99) * 1000:.0f}",
        "burst_ready_p50_s": f"{percentile(burst, 50):.1f}",
        "burst_ready_p99_s": f"{percentile(burst, 99):.1f}",
        "baseline_apply_per_s": f"{baseline_rate:.2f}",
        "clusters_used": str(len(placed)),
        "max_cluster_share": f"{max(placed.values()) / args.deployments:.2f}",
        # The fullest cluster against an even spread (1.00 = even): a share alone hides piles
        # when there are many clusters (0.03 of 2,000 over 100 was 2.8x the even 20).
        "placement_skew": f"{max(placed.values()) / (args.deployments / args.clusters):.2f}",
        "reconciles_per_deployment": f"{total / args.deployments:.1f}",
        "sql_per_deployment": f"{converge_counts.sql_statements / args.deployments:.0f}",
        "redis_cmds_per_deployment": f"{converge_counts.redis_commands / args.deployments:.0f}",
        "sql_per_reconcile": f"{converge_counts.sql_statements / total:.1f}",
        "sql_tx_per_reconcile": f"{converge_counts.sql_transactions / total:.1f}",
        "sql_connections_converge": str(converge_counts.sql_connections),
        "sql_connections_periodic_resync": str(periodic_counts.sql_connections),
        "redis_cmds_per_reconcile": f"{converge_counts.redis_commands / total:.1f}",
        "grpc_per_deployment": f"{converge_counts.internal_grpc_calls / args.deployments:.1f}",
        "grpc_per_reconcile": f"{converge_counts.internal_grpc_calls / total:.2f}",
        "resync_grpc_per_reconcile": f"{resync_counts.internal_grpc_calls / resync_total:.2f}",
        "periodic_resync_s": f"{periodic_s:.1f}",
        "periodic_resync_grpc_per_reconcile": f"{periodic_counts.internal_grpc_calls / periodic_total:.2f}",
        "periodic_resync_delivery_cpu_ms_per_reconcile": f"{periodic_delivery_cpu_ms:.2f}",
        "kube_writes_per_deployment": f"{converge_counts.kube_writes / args.deployments:.1f}",
        "idle_reconciles_per_s": f"{sum(idle_counts.reconciles.values()) / idle_counts.at:.1f}",
        "resync_kube_writes": str(resync_counts.kube_writes),
        "delivery_replicas": str(args.delivery_replicas),
        "delivery_share": converge_share,
        "resync_delivery_share": resync_share,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deployments", type=int, default=100, help="deployments created at once (default 100)")
    parser.add_argument("--clusters", type=int, default=10, help="emulated clusters, `local` included (default 10)")
    parser.add_argument("--samples", type=int, default=10, help="one-at-a-time create -> Ready samples (default 10)")
    parser.add_argument("--idle-seconds", type=float, default=60.0, help="length of the idle window (default 60)")
    parser.add_argument(
        "--baseline-max", type=int, default=1000, help="at most this many deployments in the baseline (default 1000)"
    )
    parser.add_argument("--speed", type=float, default=50.0, help="emulator time scale, as the tests use (default 50)")
    parser.add_argument("--keep", action="store_true", help="keep the state directory (logs) afterwards")
    parser.add_argument(
        "--delivery-replicas", type=int, default=1, help="workload-delivery processes sharing the work (default 1)"
    )
    args = parser.parse_args()
    if min(args.deployments, args.clusters, args.samples, args.delivery_replicas) < 1:
        parser.error("--deployments, --clusters, --samples and --delivery-replicas must be at least 1")
    root = Path(tempfile.mkdtemp(prefix="tp-scale-"))
    # `up` saves its admin context: keep it out of the user's own configuration.
    os.environ["THREEPORT_CONFIG"] = str(root / "config.yaml")
    try:
        result = asyncio.run(run(args, root / "state"))
    finally:
        if args.keep:
            log(f"state and logs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print("RESULT " + " ".join(f"{key}={value}" for key, value in result.items()))


if __name__ == "__main__":
    main()
