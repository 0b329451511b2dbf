"""A health probe: version, nodes and their readiness, capacity, and API latency.

Capacity is what the scheduler would see: allocatable resources summed over ready nodes, and
requests summed over pods that still hold them (not Succeeded or Failed, which the API server
filters out for us). Objects are read as raw JSON and only the fields named here are looked at,
so a tenant's odd or malformed object (issue 17: ``readinessProbe: {httpGet: {}}``) cannot make
a cluster look unreachable, and a probe of a busy cluster does not build a model per pod.

The requests of pods of Threeport deployments (DESIGN §5 labels) are also summed on their own,
and those deployments counted: placement compares them with what the claims bound to the cluster
declared, to count the requests of claims whose workloads are not running yet
(``domain.placement``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from threeport_model.quantities import cpu_millis, memory_bytes
from threeport_runtime.kube.client import MANAGED_BY_LABEL, KubeClient

HOLDING_RESOURCES = "status.phase!=Succeeded,status.phase!=Failed"
# The labels delivery puts on every object of a deployment, next to MANAGED_BY_LABEL=threeport.
PROJECT_LABEL = "threeport.io/project"
DEPLOYMENT_LABEL = "threeport.io/deployment"


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
    deployments_requested_cpu_millis: int = 0
    deployments_requested_memory_bytes: int = 0
    deployments_running: int = 0


def _version(info: dict[str, Any]) -> str:
    major = str(info.get("major") or "").strip("+")
    minor = str(info.get("minor") or "").strip("+")
    return f"{major}.{minor}" if major and minor else str(info.get("gitVersion") or "")


def _node_ready(node: dict[str, Any]) -> bool:
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _deployment_of(pod: dict[str, Any]) -> tuple[str, str] | None:
    """The (project, deployment) labels of a pod Threeport applied for a deployment, else None."""
    labels = (pod.get("metadata") or {}).get("labels") or {}
    if labels.get(MANAGED_BY_LABEL) != "threeport" or not labels.get(DEPLOYMENT_LABEL):
        return None
    return str(labels.get(PROJECT_LABEL) or ""), str(labels[DEPLOYMENT_LABEL])


def _pod_requests(pod: dict[str, Any]) -> tuple[int, int]:
    cpu = memory = 0
    for container in (pod.get("spec") or {}).get("containers") or []:
        requests = ((container or {}).get("resources") or {}).get("requests") or {}
        cpu += cpu_millis(requests.get("cpu"))
        memory += memory_bytes(requests.get("memory"))
    return cpu, memory


async def probe(client: KubeClient) -> ProbeResult:
    """Probes the cluster; raises the runtime's KubeError (Unreachable, Unauthorized, ...)."""
    started = time.perf_counter()
    version = _version(await client.version())
    latency = int((time.perf_counter() - started) * 1000)
    # Listing nodes needs credentials (the version endpoint does not): a bad token shows here.
    nodes = await client.list("v1", "Node")
    pods = await client.list("v1", "Pod", fields=HOLDING_RESOURCES)
    ready_nodes = [node for node in nodes if _node_ready(node)]
    allocatable = [(node.get("status") or {}).get("allocatable") or {} for node in ready_nodes]
    requested = [_pod_requests(pod) for pod in pods]
    owners = [_deployment_of(pod) for pod in pods]
    deployments = [r for owner, r in zip(owners, requested, strict=True) if owner is not None]
    return ProbeResult(
        kubernetes_version=version,
        node_count=len(nodes),
        ready_node_count=len(ready_nodes),
        allocatable_cpu_millis=sum(cpu_millis(a.get("cpu")) for a in allocatable),
        allocatable_memory_bytes=sum(memory_bytes(a.get("memory")) for a in allocatable),
        requested_cpu_millis=sum(c for c, _ in requested),
        requested_memory_bytes=sum(m for _, m in requested),
        api_latency_ms=latency,
        deployments_requested_cpu_millis=sum(c for c, _ in deployments),
        deployments_requested_memory_bytes=sum(m for _, m in deployments),
        deployments_running=len({owner for owner in owners if owner is not None}),
    )
