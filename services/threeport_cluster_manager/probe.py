"""A health probe: version, nodes and their readiness, capacity, and API latency.

Capacity is what the scheduler would see: allocatable resources summed over ready nodes, and
requests summed over pods that still hold them (not Succeeded or Failed). Objects are read as
raw JSON and only the fields named here are looked at, so a tenant's odd or malformed object
(issue 17: ``readinessProbe: {httpGet: {}}``) cannot make a cluster look unreachable, and a
probe of a busy cluster does not build a model per pod.

The requests of pods of Threeport deployments (DESIGN §5 labels) are also summed on their own,
and those deployments counted: placement compares them with what the claims bound to the cluster
declared, to count the requests of claims whose workloads are not running yet
(``domain.placement``).

Nodes and pods come from the cluster's watch-fed cache (``PROBED_KINDS``, every object, kept by
the ``KubePool``) once it is synced: a probe then lists nothing, where listing every pod of every
cluster every probe interval was most of the idle cost at scale (issue 14). Until the cache is
synced (just started, or a watch failed) the probe lists as before, with a field selector
leaving out Succeeded and Failed pods. ``/version`` is read every probe (the latency), and with
the cache a discovery document too: ``/version`` needs no credentials, so this is where a bad
token shows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from threeport_model.labels import DEPLOYMENT_LABEL, MANAGED_BY_LABEL, PROJECT_LABEL
from threeport_model.quantities import cpu_millis, memory_bytes
from threeport_runtime.kube.cache import ClusterCache, Kind
from threeport_runtime.kube.client import KubeClient

HOLDING_RESOURCES = "status.phase!=Succeeded,status.phase!=Failed"
DONE_PHASES = frozenset({"Succeeded", "Failed"})
# What the probe's cache of a cluster holds (``KubePool.cache(cluster, PROBED_KINDS, "")``).
PROBED_KINDS: tuple[Kind, ...] = (("v1", "Node"), ("v1", "Pod"))


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


def _holds_resources(pod: dict[str, Any]) -> bool:
    """As the field selector ``HOLDING_RESOURCES``: a pod with no phase yet holds them too."""
    return (pod.get("status") or {}).get("phase") not in DONE_PHASES


async def _nodes_and_pods(
    client: KubeClient, cache: ClusterCache | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if cache is not None and cache.synced:
        # The watches may have been opened with credentials since revoked: ask for something
        # small that needs them (the API group list, a few hundred bytes).
        await client.request("GET", "/api", what="checking the credentials")
        nodes = cache.list("v1", "Node")
        return nodes, [pod for pod in cache.list("v1", "Pod") if _holds_resources(pod)]
    # Listing nodes needs credentials (the version endpoint does not): a bad token shows here.
    nodes = await client.list("v1", "Node")
    return nodes, await client.list("v1", "Pod", fields=HOLDING_RESOURCES)


async def probe(client: KubeClient, cache: ClusterCache | None = None) -> ProbeResult:
    """Probes the cluster, reading nodes and pods from ``cache`` when it is synced; raises the
    runtime's KubeError (Unreachable, Unauthorized, ...)."""
    started = time.perf_counter()
    version = _version(await client.version())
    latency = int((time.perf_counter() - started) * 1000)
    nodes, pods = await _nodes_and_pods(client, cache)
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
