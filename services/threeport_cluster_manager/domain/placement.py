"""Placement of a ClusterClaim: which cluster it binds to, and why (pure; no I/O).

Rules, in order:

1. An explicit cluster (``spec.cluster``) wins, if it exists and can take placements.
2. Otherwise the healthy clusters that meet every requirement (location, provider, labels,
   project restriction, free CPU/memory) compete; the one with the most free allocatable CPU
   wins, then the most free memory. Equal clusters (typically: no resource requests anywhere)
   are told apart by the fewest bound claims, then by a hash of claim and cluster name
   (rendezvous hashing), so ties spread over the clusters instead of all landing on the first
   by name, and the same claim prefers the same cluster every time.

Free capacity is what the cluster's last probe saw minus the requests of bound claims whose
workloads the probe did not see (``unseen_*``). Without this a burst of claims all goes to
whichever cluster looked emptiest at its last probe, since delivery applies the pods minutes
after the binding (issue 14). Unseen is the larger of two lower bounds:

- the requests of claims bound after the probe started (it cannot have seen them), and
- the requests of all claims bound to the cluster minus what the probe saw pods of Threeport
  deployments request (``deployments_requested_*``): a claim bound before the probe whose pods
  were not applied yet is still unseen, and one whose pods run is not counted twice.

A claim that declares no requests (workload-delivery's claims today) is assumed to need what
the deployments the probes found running request on average (``Estimate``; nothing before any
runs), so such claims too count against a cluster from the moment they are bound.

The same free capacity decides whether a claim fits and which cluster wins.
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


@dataclass(frozen=True)
class Usage:
    """What placement knows of a cluster besides its last probe: the claims bound to it (not
    being deleted), the requests they declared and how many declared none, and the same for the
    claims bound after the probe started."""

    bound: int = 0
    cpu_millis: int = 0
    memory_bytes: int = 0
    undeclared: int = 0
    since_probe_cpu_millis: int = 0
    since_probe_memory_bytes: int = 0
    since_probe_undeclared: int = 0


@dataclass(frozen=True)
class Estimate:
    """What a claim that declares no requests is assumed to need."""

    cpu_millis: int = 0
    memory_bytes: int = 0


NO_USAGE = Usage()
NO_ESTIMATE = Estimate()


def estimate(clusters: Sequence[cluster_pb2.Cluster]) -> Estimate:
    """The average requests of the deployments running on ``clusters`` (none: nothing)."""
    running = sum(c.status.deployments_running for c in clusters)
    if running <= 0:
        return NO_ESTIMATE
    cpu = sum(c.status.deployments_requested_cpu_millis for c in clusters)
    memory = sum(c.status.deployments_requested_memory_bytes for c in clusters)
    return Estimate(cpu // running, memory // running)


def unseen_cpu_millis(cluster: cluster_pb2.Cluster, usage: Usage, guess: Estimate = NO_ESTIMATE) -> int:
    """CPU that bound claims need and the last probe did not see requested."""
    since_probe = usage.since_probe_cpu_millis + usage.since_probe_undeclared * guess.cpu_millis
    needed = usage.cpu_millis + usage.undeclared * guess.cpu_millis
    return max(since_probe, needed - cluster.status.deployments_requested_cpu_millis, 0)


def unseen_memory_bytes(cluster: cluster_pb2.Cluster, usage: Usage, guess: Estimate = NO_ESTIMATE) -> int:
    since_probe = usage.since_probe_memory_bytes + usage.since_probe_undeclared * guess.memory_bytes
    needed = usage.memory_bytes + usage.undeclared * guess.memory_bytes
    return max(since_probe, needed - cluster.status.deployments_requested_memory_bytes, 0)


def free_cpu_millis(cluster: cluster_pb2.Cluster, usage: Usage = NO_USAGE, guess: Estimate = NO_ESTIMATE) -> int:
    used = cluster.status.requested_cpu_millis + unseen_cpu_millis(cluster, usage, guess)
    return max(cluster.status.allocatable_cpu_millis - used, 0)


def free_memory_bytes(
    cluster: cluster_pb2.Cluster, usage: Usage = NO_USAGE, guess: Estimate = NO_ESTIMATE
) -> int:
    used = cluster.status.requested_memory_bytes + unseen_memory_bytes(cluster, usage, guess)
    return max(cluster.status.allocatable_memory_bytes - used, 0)


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


def mismatch(
    cluster: cluster_pb2.Cluster,
    requirements: cluster_claim_pb2.ClusterRequirements,
    usage: Usage = NO_USAGE,
    guess: Estimate = NO_ESTIMATE,
) -> str | None:
    """The first requirement the cluster does not meet (free capacity net of ``usage``), or None."""
    if requirements.location and cluster.spec.location != requirements.location:
        return f"location {cluster.spec.location or '(none)'} is not {requirements.location}"
    if requirements.provider and cluster.spec.provider != requirements.provider:
        return f"provider {cluster.spec.provider} is not {requirements.provider}"
    for key, value in sorted(requirements.labels.items()):
        if cluster.labels.get(key) != value:
            return f"label {key}={value} missing"
    cpu, memory = free_cpu_millis(cluster, usage, guess), free_memory_bytes(cluster, usage, guess)
    if requirements.cpu_millis and cpu < requirements.cpu_millis:
        return f"only {cpu}m CPU free of {requirements.cpu_millis}m needed"
    if requirements.memory_bytes and memory < requirements.memory_bytes:
        return (
            f"only {memory / GIB:.1f}Gi memory free of "
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
    usage: Mapping[str, Usage] | None = None,
) -> Decision:
    """Where ``claim`` goes; ``usage`` is each cluster's ``Usage`` by name (none when missing)."""
    known = usage or {}
    guess = estimate(clusters)

    def of(cluster: cluster_pb2.Cluster) -> Usage:
        return known.get(cluster.name, NO_USAGE)

    def free(cluster: cluster_pb2.Cluster) -> tuple[int, int]:
        return free_cpu_millis(cluster, of(cluster), guess), free_memory_bytes(cluster, of(cluster), guess)
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
        problem = unavailability(cluster, spec.project) or mismatch(cluster, spec.requirements, of(cluster), guess)
        if problem is None:
            matching.append(cluster)
        else:
            rejected.append(f"{cluster.name}: {problem}")
    if matching:
        best = min(
            matching,
            key=lambda c: (
                -free(c)[0],
                -free(c)[1],
                of(c).bound,
                tie_breaker(claim.name, c.name),
            ),
        )
        bound = of(best).bound
        cpu, memory = free(best)
        return Decision(
            cluster=best.name,
            reason=(
                f"{best.name} meets the requirements ({wanted}) and has the most free capacity "
                f"({cpu}m CPU, {memory / GIB:.1f}Gi memory, "
                f"{bound} claim{'s' if bound != 1 else ''} bound) "
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
