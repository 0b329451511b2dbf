"""Benchmark of the Kubernetes API emulator at scale: N clusters x M Deployments in ONE emulator
process. Measures create/get/list request rates, watch event throughput and the emulator's RSS,
and ends with a single `RESULT key=value ...` line.

    .venv/bin/python tools/bench/kubesim.py [--clusters 100] [--deployments 100]

The emulator runs as a subprocess (so its RSS is its own); this script drives it with a minimal
keep-alive HTTP/1.1 client on asyncio streams, so client overhead stays small on a 2-core box.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from threeport_kubesim.control import ClusterInfo, ControlClient

CONNECTIONS = 24


class HttpConnection:
    """One keep-alive connection to a cluster; requests on it are sequential."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.auth = f"Authorization: Bearer {token}\r\n"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port, limit=2**24)
        assert self.reader is not None
        payload = json.dumps(body).encode() if body is not None else b""
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{self.auth}Accept: application/json\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        self.writer.write(head.encode() + payload)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def deployment(name: str) -> dict[str, Any]:
    labels = {"app": name, "bench": "kubesim"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]},
            },
        },
    }


async def run_requests(jobs: list[tuple[ClusterInfo, str, str, Any, str]]) -> tuple[float, int]:
    """Run (cluster, method, path, body, content type) jobs over CONNECTIONS parallel workers."""
    queue: asyncio.Queue[tuple[ClusterInfo, str, str, Any, str]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    failures = 0

    async def worker() -> None:
        nonlocal failures
        connections: dict[int, HttpConnection] = {}
        while not queue.empty():
            cluster, method, path, body, content_type = queue.get_nowait()
            connection = connections.get(cluster.port)
            if connection is None:
                connection = connections[cluster.port] = HttpConnection(cluster.port, cluster.token)
            status, _ = await connection.request(method, path, body, content_type)
            if status >= 300:
                failures += 1
        for connection in connections.values():
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
    return time.perf_counter() - started, failures


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def wait_settled(clusters: list[ClusterInfo], deployments: int, limit_seconds: float) -> float:
    """Seconds until every Deployment reports an available replica (or the timeout)."""
    started = time.perf_counter()
    pending = list(clusters)
    while pending and time.perf_counter() - started < limit_seconds:
        still = []
        for cluster in pending:
            connection = HttpConnection(cluster.port, cluster.token)
            _, body = await connection.request("GET", "/apis/apps/v1/namespaces/bench/deployments")
            connection.close()
            items = json.loads(body)["items"]
            available = sum(1 for d in items if (d.get("status") or {}).get("availableReplicas") == 1)
            if available < deployments:
                still.append(cluster)
        pending = still
        if pending:
            await asyncio.sleep(1)
    return time.perf_counter() - started


async def measure_watch(clusters: list[ClusterInfo], deployments: int) -> tuple[float, int, float]:
    """Open one watch per cluster, patch every Deployment, count MODIFIED events received."""
    received = 0
    expected = len(clusters) * deployments
    done = asyncio.Event()
    streams: list[asyncio.StreamWriter] = []

    async def watch(cluster: ClusterInfo, ready: asyncio.Event) -> None:
        nonlocal received
        connection = HttpConnection(cluster.port, cluster.token)
        _, body = await connection.request("GET", "/apis/apps/v1/namespaces/bench/deployments?limit=1")
        rv = json.loads(body)["metadata"]["resourceVersion"]
        reader, writer = await asyncio.open_connection("127.0.0.1", cluster.port, limit=2**24)
        connection.close()
        streams.append(writer)
        writer.write(
            (
                f"GET /apis/apps/v1/namespaces/bench/deployments?watch=true&resourceVersion={rv}"
                f"&labelSelector=bench%3Dkubesim HTTP/1.1\r\nHost: x\r\n{connection.auth}\r\n"
            ).encode()
        )
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        ready.set()
        while not done.is_set():
            size_line = await reader.readline()
            if not size_line:
                return
            size = int(size_line.strip() or b"0", 16)
            chunk = await reader.readexactly(size + 2)
            received += chunk.count(b'"type":"MODIFIED"')
            if received >= expected:
                done.set()

    readies = [asyncio.Event() for _ in clusters]
    tasks = [asyncio.create_task(watch(c, r)) for c, r in zip(clusters, readies, strict=True)]
    await asyncio.gather(*(r.wait() for r in readies))
    jobs = [
        (
            c,
            "PATCH",
            f"/apis/apps/v1/namespaces/bench/deployments/d{i}",
            {"metadata": {"annotations": {"bench/touched": str(i)}}},
            "application/merge-patch+json",
        )
        for c in clusters
        for i in range(deployments)
    ]
    random.shuffle(jobs)
    started = time.perf_counter()
    patch_seconds, _ = await run_requests(jobs)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), timeout=120)
    elapsed = time.perf_counter() - started
    for writer in streams:
        writer.close()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return elapsed, received, len(jobs) / patch_seconds


async def bench(args: argparse.Namespace, control: ControlClient, pid: int) -> dict[str, Any]:
    clusters: list[ClusterInfo] = []
    started = time.perf_counter()
    for index in range(args.clusters):
        clusters.append(await asyncio.to_thread(control.create_cluster, f"bench-{index:03d}", tls=False))
    cluster_create_s = time.perf_counter() - started
    namespaces = [
        (c, "POST", "/api/v1/namespaces", {"metadata": {"name": "bench"}}, "application/json") for c in clusters
    ]
    await run_requests(namespaces)
    print(f"{len(clusters)} clusters up in {cluster_create_s:.1f}s, rss={rss_mb(pid):.0f}MB", file=sys.stderr)

    creates = [
        (c, "POST", "/apis/apps/v1/namespaces/bench/deployments", deployment(f"d{i}"), "application/json")
        for i in range(args.deployments)
        for c in clusters
    ]
    create_seconds, create_failures = await run_requests(creates)
    print(f"created {len(creates)} deployments in {create_seconds:.1f}s ({create_failures} failed)", file=sys.stderr)
    settle_s = await wait_settled(clusters, args.deployments, limit_seconds=args.settle_timeout)
    settled_rss = rss_mb(pid)
    print(f"settled in {settle_s:.1f}s, rss={settled_rss:.0f}MB", file=sys.stderr)

    gets = [
        (c, "GET", f"/apis/apps/v1/namespaces/bench/deployments/d{i}", None, "application/json")
        for c in clusters
        for i in range(args.deployments)
    ]
    random.shuffle(gets)
    get_seconds, _ = await run_requests(gets)
    lists = [
        (c, "GET", "/apis/apps/v1/namespaces/bench/deployments", None, "application/json")
        for c in clusters
        for _ in range(5)
    ]
    list_seconds, _ = await run_requests(lists)
    watch_seconds, events, patch_rps = await measure_watch(clusters, args.deployments)
    final_rss = rss_mb(pid)
    return {
        "create_rps": round(len(creates) / create_seconds),
        "get_rps": round(len(gets) / get_seconds),
        "list_rps": round(len(lists) / list_seconds, 1),
        "list_items": args.deployments,
        "patch_rps": round(patch_rps),
        "watch_events_per_s": round(events / watch_seconds),
        "watch_events": events,
        "settle_s": round(settle_s, 1),
        "rss_mb": round(max(settled_rss, final_rss)),
        "cluster_create_s": round(cluster_create_s, 1),
        "clusters": args.clusters,
        "deployments": args.clusters * args.deployments,
        "create_failures": create_failures,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument("--deployments", type=int, default=100, help="Deployments per cluster")
    parser.add_argument("--speed", type=float, default=100.0, help="simulated-time speed of the emulator")
    parser.add_argument("--settle-timeout", type=float, default=240.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kubesim-bench-") as directory:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "threeport_kubesim",
                "serve",
                "--port",
                "0",
                "--kubeconfig-dir",
                directory,
                "--speed",
                str(args.speed),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            started = json.loads(process.stdout.readline())
            control = ControlClient(started["control_url"], timeout=120)
            result = asyncio.run(bench(args, control, process.pid))
        finally:
            process.terminate()
            process.wait(timeout=60)
    print("RESULT " + " ".join(f"{key}={value}" for key, value in result.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
