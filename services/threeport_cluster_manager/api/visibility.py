"""Which of a cluster's claims a caller may see.

Clusters are shared by projects, and ``status.claims`` names the claims bound to one; claim ids
are derived from their owner deployments (``shop-prod-1a2b...``), so listing them all would tell
every logged-in user which deployments other projects run there. Operators and services see
every claim; anyone else sees only the claims owned by deployments of projects they hold a role
on (the count in the ``InUse`` condition stays: it reveals no names).
"""

from __future__ import annotations

from threeport.clusters.v1alpha1 import cluster_pb2
from threeport_cluster_manager.store.repositories import Claims
from threeport_runtime.rpc.identity import caller


class ClaimVisibility:
    def __init__(self, claims: Claims):
        self._claims = claims

    async def redact(self, cluster: cluster_pb2.Cluster) -> cluster_pb2.Cluster:
        """``cluster`` with ``status.claims`` cut down to what the current caller may see."""
        who = caller()
        if who.is_service or who.is_operator or not cluster.status.claims:
            return cluster
        projects = {grant.project for grant in who.grants if grant.project}
        visible = set()
        if projects:
            for owner_claim, owner in await self._owners(cluster.name):
                if "/".join(owner.split("/")[:2]) in projects:
                    visible.add(owner_claim)
        kept = [name for name in cluster.status.claims if name in visible]
        del cluster.status.claims[:]
        cluster.status.claims.extend(kept)
        return cluster

    async def _owners(self, cluster: str) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        page_token = ""
        while True:
            claims, page_token = await self._claims.list(
                filter_text=f'status.cluster = "{cluster}"', page_token=page_token, page_size=1000
            )
            found += [(claim.name, claim.spec.owner) for claim in claims]
            if not page_token:
                return found
