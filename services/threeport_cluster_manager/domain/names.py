"""Names: cluster ids, resource names, and the deterministic names of things created for them.

Deterministic names are what make provisioning idempotent across crashes: a retried create
finds what the interrupted one made instead of making a second one.
"""

from __future__ import annotations

import hashlib

CLUSTERS = "clusters/"
CLAIMS = "clusterClaims/"


def cluster_name(cluster_id: str) -> str:
    return CLUSTERS + cluster_id


def last_segment(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def _label(stem: str, salt: str) -> str:
    """A DNS label made of ``stem`` and a short hash of ``salt``, at most 63 characters."""
    digest = hashlib.sha256(salt.encode()).hexdigest()[:8]
    head = stem[: 63 - len(digest) - 1].rstrip("-")
    return f"{head}-{digest}"


def on_demand_cluster_id(claim_id: str, claim_uid: str) -> str:
    """The id of the cluster created on demand for a claim (``od-<claim>-<hash>``)."""
    return _label(f"od-{claim_id}", claim_uid)


def provisioned_cluster_id(cluster_id: str, cluster_uid: str) -> str:
    """The provider-side name of a provisioned cluster: unique per Threeport cluster uid, so two
    control planes (or two test runs) sharing one provider never collide, and a retry after a
    crash finds the same one."""
    return _label(cluster_id, cluster_uid)
