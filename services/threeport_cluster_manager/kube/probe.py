"""A health probe: version, nodes and their readiness, capacity, and API latency.

Capacity is what the scheduler would see: allocatable resources summed over ready nodes, and
requests summed over pods that still hold them (not Succeeded or Failed).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from kubernetes.aio import client as kube

from threeport_cluster_manager.domain.connection import Connection
from threeport_cluster_manager.kube.client import api_client, classify
from threeport_model.quantities import cpu_millis, memory_bytes


@dataclass(frozen=True)
class ProbeResult:
    kubernetes_version: str
    node_count: int
    ready_node_count: int
    allocatable_cpu_millis: int
    allocatable_memory_bytes: int
    requested_cpu_millis: int
    requested_memory_bytes: int
    api_latency_ms: int


def _version(info: Any) -> str:
    major = str(info.major or "").strip("+")
    minor = str(info.minor or "").strip("+")
    return f"{major}.{minor}" if major and minor else str(info.git_version or "")


def _node_ready(node: Any) -> bool:
    conditions = (node.status.conditions if node.status else None) or []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)


def _pod_requests(pod: Any) -> tuple[int, int]:
    if pod.status is not None and pod.status.phase in ("Succeeded", "Failed"):
        return 0, 0
    cpu = memory = 0
    for container in (pod.spec.containers if pod.spec else None) or []:
        requests = (container.resources.requests if container.resources else None) or {}
        cpu += cpu_millis(requests.get("cpu"))
        memory += memory_bytes(requests.get("memory"))
    return cpu, memory


async def version_of(api: kube.ApiClient, call_timeout: float) -> str:
    return _version(await kube.VersionApi(api).get_code(_request_timeout=call_timeout))


async def probe(connection: Connection, call_timeout: float) -> ProbeResult:
    """Probes the cluster; raises KubeFailure (unreachable, unauthorized, ...) on failure."""
    try:
        async with api_client(connection) as api:
            started = time.perf_counter()
            version = await asyncio.wait_for(version_of(api, call_timeout), call_timeout)
            latency = int((time.perf_counter() - started) * 1000)
            core = kube.CoreV1Api(api)
            # Listing nodes needs credentials (the version endpoint does not): a bad token shows here.
            nodes = await asyncio.wait_for(core.list_node(_request_timeout=call_timeout), call_timeout)
            pods = await asyncio.wait_for(core.list_pod_for_all_namespaces(_request_timeout=call_timeout), call_timeout)
    except Exception as error:
        raise classify(error, connection.server) from None
    node_items: list[Any] = list(nodes.items)
    pod_items: list[Any] = list(pods.items)
    ready_nodes = [n for n in node_items if _node_ready(n)]
    allocatable_cpu = sum(cpu_millis((n.status.allocatable or {}).get("cpu")) for n in ready_nodes)
    allocatable_memory = sum(memory_bytes((n.status.allocatable or {}).get("memory")) for n in ready_nodes)
    requested = [_pod_requests(p) for p in pod_items]
    return ProbeResult(
        kubernetes_version=version,
        node_count=len(node_items),
        ready_node_count=len(ready_nodes),
        allocatable_cpu_millis=allocatable_cpu,
        allocatable_memory_bytes=allocatable_memory,
        requested_cpu_millis=sum(c for c, _ in requested),
        requested_memory_bytes=sum(m for _, m in requested),
        api_latency_ms=latency,
    )
