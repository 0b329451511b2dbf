"""The record of which deployment owns which namespace in which cluster.

A deployment takes its (cluster, namespace) before anything is applied; the primary key makes
the first taker the owner, so two deployments (of one project or of two) can never both apply
into one namespace, however their names were derived and whichever replica reconciles them. The
claim goes when the namespace is gone from the cluster: when the deployment moved to another
namespace and the old one was pruned, or when the deployment was deleted.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from sqlalchemy import Text, and_, any_, bindparam, delete, or_, select
from sqlalchemy.dialects.postgresql import ARRAY, insert

from threeport_runtime.db.engine import Database
from threeport_runtime.db.plain_reads import PlainRead
from threeport_workload_delivery.domain import names
from threeport_workload_delivery.store.tables import NamespaceClaimRow

# What ``known`` reads, on every reconcile: built once, and ``= ANY`` of one array parameter
# rather than ``IN`` (whose list is rendered into the statement at each execution: half the
# read's CPU in a steady resync).
_KNOWN = PlainRead(select(NamespaceClaimRow.cluster, NamespaceClaimRow.namespace, NamespaceClaimRow.deployment).where(
    or_(NamespaceClaimRow.deployment == bindparam("deployment"),
        and_(NamespaceClaimRow.cluster == bindparam("cluster"),
             NamespaceClaimRow.namespace == any_(bindparam("namespaces", type_=ARRAY(Text)))))))


class NamespaceClaims:
    def __init__(self, db: Database):
        self._db = db

    async def take(self, cluster: str, namespace: str, deployment: str) -> str:
        """Claims the namespace for the deployment unless someone holds it; returns the owner."""
        async with self._db.session() as session, session.begin():
            await session.execute(insert(NamespaceClaimRow).values(
                cluster=cluster, namespace=namespace, project=names.project_of(deployment), deployment=deployment,
                create_time=datetime.now(UTC),
            ).on_conflict_do_nothing(index_elements=["cluster", "namespace"]))
            owner = await session.scalar(select(NamespaceClaimRow.deployment).where(
                NamespaceClaimRow.cluster == cluster, NamespaceClaimRow.namespace == namespace))
        return str(owner)

    async def known(self, deployment: str, cluster: str, namespaces: Collection[str]) -> list[tuple[str, str, str]]:
        """(cluster, namespace, owner) of every claim the deployment holds and of ``namespaces`` in
        ``cluster``, in one plain read: what a reconcile needs to know before it takes any."""
        rows = await self._db.fetch(_KNOWN, {"deployment": deployment, "cluster": cluster,
                                             "namespaces": list(namespaces)})
        return [(row.cluster, row.namespace, row.deployment) for row in rows]

    async def owners(self, namespace: str) -> list[str]:
        """The deployments holding this namespace in any cluster."""
        async with self._db.read_session() as session:
            found = await session.scalars(select(NamespaceClaimRow.deployment).where(
                NamespaceClaimRow.namespace == namespace))
            return sorted(set(found))

    async def held(self, deployment: str) -> list[tuple[str, str]]:
        """(cluster, namespace) of every claim the deployment holds."""
        async with self._db.read_session() as session:
            rows = await session.execute(select(NamespaceClaimRow.cluster, NamespaceClaimRow.namespace).where(
                NamespaceClaimRow.deployment == deployment))
            return [(row.cluster, row.namespace) for row in rows]

    async def release(self, deployment: str, claims: list[tuple[str, str]]) -> None:
        for cluster, namespace in claims:
            async with self._db.session() as session, session.begin():
                await session.execute(delete(NamespaceClaimRow).where(
                    NamespaceClaimRow.cluster == cluster, NamespaceClaimRow.namespace == namespace,
                    NamespaceClaimRow.deployment == deployment))
