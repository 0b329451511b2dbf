"""What placement reads, and the lock that makes a placement and its binding one step.

``PlacementReads.locked()`` takes the placement lock and reads every cluster's etag with its
``Usage`` (how many claims are bound to it, their requests and how many declare none, and the
same for the ones bound after its last probe started) in one statement: the claims are
aggregated in Postgres, from the narrow ``claim_bindings`` rows the database keeps beside them
(migration 0003) rather than from each claim's JSON (26-29 ms a placement at 10,000 claims, and
placements run one at a time), and none is converted. Clusters are kept as messages by etag;
only those written since the previous placement (usually the one it bound a claim to) are read
whole and converted, in a second statement: reading and converting every cluster row on every
placement was most of placement's cost at 100 clusters. The lock is held until the caller has
written the binding, so two claims placed at the same moment, by two workers or two
replicas, never both take the last room on a cluster: the second one's read sees the first one's
binding. It is an asyncio lock in front of a Postgres transaction-level advisory lock: a
process's workers queue in memory (one pooled connection waits at most), replicas queue in
Postgres. The transaction only holds the lock (the binding is written in its own): however the
block ends - an error, a cancelled reconcile, a replica that dies - the transaction ends and the
lock with it, where a session-level lock could stay behind on a pooled connection.
"""

from __future__ import annotations

import asyncio
import uuid
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import DateTime, Select, and_, cast, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from threeport.clusters.v1alpha1 import cluster_pb2
from threeport_cluster_manager.domain.placement import Usage
from threeport_cluster_manager.store.repositories import Clusters
from threeport_cluster_manager.store.tables import ClaimBindingRow, ClusterRow
from threeport_runtime.db.engine import Database

# One lock for every placement in the schema (a stable 32-bit number of its purpose).
LOCK_KEY = zlib.crc32(b"clusters.placement")

Candidates = tuple[list[cluster_pb2.Cluster], dict[str, Usage]]


def _usage_query() -> Select[Any]:
    """Every cluster's uid and etag with its bound claims' ``Usage`` sums, in name order."""
    binding = ClaimBindingRow
    # The probe time is read out of each cluster's JSON once (materialized): PostgreSQL
    # evaluates an expression every time the query names it.
    probed = (
        select(
            ClusterRow.uid,
            ClusterRow.name,
            ClusterRow.etag,
            cast(ClusterRow.status["last_probe_time"].astext, DateTime(timezone=True)).label("probe_time"),
        )
        .cte("probed")
        .prefix_with("MATERIALIZED")
    )
    undeclared = and_(binding.cpu_millis == 0, binding.memory_bytes == 0)
    totals = (
        select(
            binding.cluster,
            func.count().label("bound"),
            func.sum(binding.cpu_millis).label("cpu"),
            func.sum(binding.memory_bytes).label("memory"),
            func.count().filter(undeclared).label("undeclared"),
        )
        .group_by(binding.cluster)
        .subquery("totals")
    )
    # Bound after the cluster's probe started: an index range per cluster, usually short. A
    # claim bound before bindings recorded their time has none and is not in it: only the
    # comparison with what pods of deployments request counts it.
    since_probe = (
        select(
            func.coalesce(func.sum(binding.cpu_millis), 0).label("cpu"),
            func.coalesce(func.sum(binding.memory_bytes), 0).label("memory"),
            func.count().filter(undeclared).label("undeclared"),
        )
        .where(binding.cluster == probed.c.name, binding.bind_time > probed.c.probe_time)
        .lateral("since_probe")
    )
    return (
        select(
            probed.c.uid,
            probed.c.etag,
            func.coalesce(totals.c.bound, 0),
            func.coalesce(totals.c.cpu, 0),
            func.coalesce(totals.c.memory, 0),
            func.coalesce(totals.c.undeclared, 0),
            since_probe.c.cpu,
            since_probe.c.memory,
            since_probe.c.undeclared,
        )
        .select_from(probed)
        .outerjoin(totals, totals.c.cluster == probed.c.name)
        .join(since_probe, true())
        .order_by(probed.c.name)
    )


# Built once: it is the same statement at every placement.
_USAGE = _usage_query()


class PlacementReads:
    def __init__(self, db: Database, clusters: Clusters):
        self._db = db
        self._clusters = clusters
        self._local = asyncio.Lock()
        # Each cluster's message as of its etag, shared with callers, who only read them.
        self._known: dict[uuid.UUID, tuple[str, cluster_pb2.Cluster]] = {}

    @asynccontextmanager
    async def locked(self) -> AsyncIterator[Candidates]:
        """Holds the placement lock for the block and yields the clusters and their usage as
        of taking it (four round trips: begin, lock, read, commit)."""
        async with self._local, self._db.session() as session, session.begin():
            await session.execute(select(func.pg_advisory_xact_lock(LOCK_KEY)))
            # A statement of its own after the lock: its snapshot includes the binding that the
            # previous holder committed before letting go.
            yield await self._candidates(session)

    async def _candidates(self, session: AsyncSession) -> Candidates:
        for _attempt in range(3):
            listed = (await session.execute(_USAGE)).all()
            changed = [uid for uid, etag, *_ in listed if self._known.get(uid, ("",))[0] != etag]
            if not changed:
                break
            # Only the clusters written since the previous placement are read and converted
            # (usually the one it bound a claim to): every write changes a row's etag.
            for row in await session.scalars(select(ClusterRow).where(ClusterRow.uid.in_(changed))):
                self._known[row.uid] = (row.etag, self._clusters.to_message(row))
            # A cluster written between the two statements: its usage was summed against the
            # older row, so both are read again (rare: a probe landing in between).
            if all(self._known.get(uid, ("",))[0] == etag for uid, etag, *_ in listed):
                break
        present = {uid for uid, *_ in listed}
        for gone in [uid for uid in self._known if uid not in present]:
            del self._known[gone]
        found: list[cluster_pb2.Cluster] = []
        usage: dict[str, Usage] = {}
        for uid, _etag, *sums in listed:
            if uid not in self._known:
                continue  # deleted between the two statements
            cluster = self._known[uid][1]
            found.append(cluster)
            usage[cluster.name] = Usage(*(int(value) for value in sums))
        return found, usage
