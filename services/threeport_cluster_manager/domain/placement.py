"""Placement of a ClusterClaim: which cluster it binds to, and why (pure; no I/O).

Rules, in order:

1. An explicit cluster (``spec.cluster``) wins, if it exists and can take placements.
2. Otherwise the healthy clusters that meet every requirement (location, provider, labels,
   project restriction, free CPU/memory) compete; the one with the most free allocatable CPU
   wins, then the most free memory. Equal clusters (typically: no resource requests anywhere)
   are told apart by the fewest bound claims, then by a hash of claim and cluster name
   (rendezvous hashing), so ties spread over the clusters instead of all landing on the first
   by name, and the same claim prefers the same cluster every time.
3. Otherwise, when the claim allows on-demand provisioning, a new cluster is created for it.
4. Otherwise the claim stays pending, with the reason each cluster was rejected.

A cluster can take placements only when it is Reachable and Ready, not cordoned and not being
deleted: an unreachable cluster is never silently used for a new placement.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from threeport.clusters.v1alpha1 import cluster_claim_pb2, cluster_pb2
from threeport_runtime.conditions import TRUE, find_condition, is_ready

REACHABLE = "Reachable"
GIB = 1024**3


@dataclass(frozen=True)
class Decision:
    """``cluster`` to bind to, or ``provision`` a new one, or neither (pending); ``reason`` says why."""

    cluster: str = ""
    provision: bool = False
    reason: str = ""


def free_cpu_millis(cluster: cluster_pb2.Cluster) -> int:
    return max(cluster.status.allocatable_cpu_millis - cluster.status.requested_cpu_millis, 0)


def free_memory_bytes(cluster: cluster_pb2.Cluster) -> int:
    return max(cluster.status.allocatable_memory_bytes - cluster.status.requested_memory_bytes, 0)


def unavailability(cluster: cluster_pb2.Cluster, project: str = "") -> str | None:
    """Why the cluster cannot take a new placement, or None if it can."""
    if cluster.HasField("delete_time"):
        return "being deleted"
    if cluster.spec.cordoned:
        return "cordoned"
    if project and cluster.spec.projects and project not in cluster.spec.projects:
        return f"restricted to other projects than {project}"
    reachable = find_condition(cluster.conditions, REACHABLE)
    if reachable is None or reachable.status != TRUE:
        return "unreachable" if reachable is not None else "not probed yet"
    ready = find_condition(cluster.conditions, "Ready")
    if ready is None or ready.status != TRUE:
        return "not ready"
    return None


def mismatch(cluster: cluster_pb2.Cluster, requirements: cluster_claim_pb2.ClusterRequirements) -> str | None:
    """The first requirement the cluster does not meet, or None."""
    if requirements.location and cluster.spec.location != requirements.location:
        return f"location {cluster.spec.location or '(none)'} is not {requirements.location}"
    if requirements.provider and cluster.spec.provider != requirements.provider:
        return f"provider {cluster.spec.provider} is not {requirements.provider}"
    for key, value in sorted(requirements.labels.items()):
        if cluster.labels.get(key) != value:
            return f"label {key}={value} missing"
    if requirements.cpu_millis and free_cpu_millis(cluster) < requirements.cpu_millis:
        return f"only {free_cpu_millis(cluster)}m CPU free of {requirements.cpu_millis}m needed"
    if requirements.memory_bytes and free_memory_bytes(cluster) < requirements.memory_bytes:
        return (
            f"only {free_memory_bytes(cluster) / GIB:.1f}Gi memory free of "
            f"{requirements.memory_bytes / GIB:.1f}Gi needed"
        )
    return None


def _describe_requirements(requirements: cluster_claim_pb2.ClusterRequirements) -> str:
    parts = []
    if requirements.location:
        parts.append(f"location={requirements.location}")
    if requirements.provider:
        parts.append(f"provider={requirements.provider}")
    parts += [f"{k}={v}" for k, v in sorted(requirements.labels.items())]
    if requirements.cpu_millis:
        parts.append(f"cpu>={requirements.cpu_millis}m")
    if requirements.memory_bytes:
        parts.append(f"memory>={requirements.memory_bytes / GIB:.1f}Gi")
    return ", ".join(parts) or "no requirements"


def tie_breaker(claim: str, cluster: str) -> int:
    """A stable pseudo-random rank of ``cluster`` for ``claim`` (the same in every process)."""
    return int.from_bytes(hashlib.blake2b(f"{claim}\x00{cluster}".encode(), digest_size=8).digest(), "big")


def place(
    claim: cluster_claim_pb2.ClusterClaim,
    clusters: Sequence[cluster_pb2.Cluster],
    bound_claims: Mapping[str, int] | None = None,
) -> Decision:
    """Where ``claim`` goes; ``bound_claims`` counts the claims bound to each cluster by name."""
    bound = bound_claims or {}
    spec = claim.spec
    if spec.cluster:
        target = next((c for c in clusters if c.name == spec.cluster), None)
        if target is None:
            return Decision(reason=f"the requested cluster {spec.cluster} does not exist")
        problem = unavailability(target, spec.project)
        if problem is not None:
            return Decision(reason=f"the requested cluster {spec.cluster} is {problem}")
        return Decision(cluster=target.name, reason=f"explicitly requested cluster {target.name}")
    wanted = _describe_requirements(spec.requirements)
    rejected: list[str] = []
    matching: list[cluster_pb2.Cluster] = []
    for cluster in sorted(clusters, key=lambda c: c.name):
        problem = unavailability(cluster, spec.project) or mismatch(cluster, spec.requirements)
        if problem is None:
            matching.append(cluster)
        else:
            rejected.append(f"{cluster.name}: {problem}")
    if matching:
        best = min(
            matching,
            key=lambda c: (
                -free_cpu_millis(c),
                -free_memory_bytes(c),
                bound.get(c.name, 0),
                tie_breaker(claim.name, c.name),
            ),
        )
        return Decision(
            cluster=best.name,
            reason=(
                f"{best.name} meets the requirements ({wanted}) and has the most free capacity "
                f"({free_cpu_millis(best)}m CPU, {free_memory_bytes(best) / GIB:.1f}Gi memory, "
                f"{bound.get(best.name, 0)} claim{'s' if bound.get(best.name, 0) != 1 else ''} bound) "
                f"of {len(matching)} matching cluster{'s' if len(matching) != 1 else ''}"
            ),
        )
    why = "; ".join(rejected) if rejected else "there are no clusters"
    if spec.allow_on_demand:
        return Decision(provision=True, reason=f"no cluster meets the requirements ({wanted}): {why}")
    return Decision(
        reason=(f"no cluster meets the requirements ({wanted}) and the claim does not allow on-demand clusters: {why}")
    )


def still_usable(cluster: cluster_pb2.Cluster | None) -> bool:
    """Whether a bound cluster still exists and is not going away (bindings are kept otherwise)."""
    return cluster is not None and not cluster.HasField("delete_time")


def is_cluster_ready(cluster: cluster_pb2.Cluster) -> bool:
    return is_ready(cluster.conditions, cluster.generation)
