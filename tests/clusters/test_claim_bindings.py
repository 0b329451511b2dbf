"""Placement sums each cluster's bound claims from ``claim_bindings``, which triggers on
``cluster_claims`` keep (migration 0003). Whatever sequence of writes the claims go through -
created, bound before or after the cluster's probe, rebound, released, their requests changed,
their status touched without a binding change, deletion requested, their last finalizer removed -
placement's ``Usage`` of every cluster is what the claims themselves say; and claims bound before
the migration are carried over by it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import sqlalchemy as sa
from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from threeport.clusters.v1alpha1 import cluster_claim_pb2, cluster_pb2
from threeport_cluster_manager.domain.placement import Usage
from threeport_cluster_manager.reconcilers.conditions import CLAIM_FINALIZER
from threeport_cluster_manager.service import DEFINITION
from threeport_cluster_manager.store.placement import PlacementReads
from threeport_cluster_manager.store.repositories import claims_of, clusters_of
from threeport_cluster_manager.store.tables import SCHEMA, ClaimBindingRow, ClusterClaimRow
from threeport_runtime.db.engine import libpq_url
from threeport_runtime.db.migrations import alembic_config, upgrade
from threeport_runtime.errors import FailedPrecondition
from threeport_runtime.runtime import ServiceRuntime
from threeport_runtime.testing import make_settings, unique_stream_prefix

CLUSTERS = ("clusters/a", "clusters/b", "clusters/c")
PROBE = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
GIB = 1024**3

# One write to one of four claims: (what, which claim, which cluster, cpu, memory, after the probe).
Write = tuple[str, int, int, int, int, bool]
WRITES = st.tuples(
    st.sampled_from(["create", "bind", "bind-untimed", "release", "require", "touch", "delete", "unfinalize"]),
    st.integers(0, 3),
    st.integers(0, len(CLUSTERS) - 1),
    st.sampled_from([0, 250, 1000]),
    st.sampled_from([0, GIB]),
    st.booleans(),
)


class Store:
    """The cluster-manager's own repositories and placement reads on a migrated database (the
    service's runtime, with no controller running: nothing else writes the claims)."""

    def __init__(self, url: str):
        self.runtime = ServiceRuntime(make_settings("clusters", url, unique_stream_prefix()), SCHEMA)
        self.db = self.runtime.db
        self.clusters, self.claims = clusters_of(self.runtime), claims_of(self.runtime)
        self.placement = PlacementReads(self.db, self.clusters)

    async def reset(self) -> None:
        tables = ", ".join(f'clusters."{table.name}"' for table in SCHEMA.metadata.sorted_tables)
        async with self.db.session() as session, session.begin():
            await session.execute(sa.text(f"TRUNCATE {tables}"))
        for name in CLUSTERS:
            await self.clusters.create(cluster_pb2.Cluster(), name=name)
            await self.clusters.update_status(name, lambda c: c.status.last_probe_time.FromDatetime(PROBE))

    async def apply(self, write: Write) -> None:
        what, index, cluster, cpu, memory, after_probe = write
        name = f"projects/acme/clusterclaims/claim{index}"
        existing = await self.claims.find(name)
        if existing is None:  # any write to a claim that does not exist creates it
            requirements = cluster_claim_pb2.ClusterRequirements(cpu_millis=cpu, memory_bytes=memory)
            spec = cluster_claim_pb2.ClusterClaimSpec(owner=f"projects/acme/deployments/d{index}",
                                                      requirements=requirements)
            await self.claims.create(cluster_claim_pb2.ClusterClaim(spec=spec), name=name)
            return
        if what == "create":
            return
        bind_time = PROBE + (timedelta(minutes=1) if after_probe else -timedelta(minutes=1))

        def bind(claim: cluster_claim_pb2.ClusterClaim) -> None:
            claim.status.cluster = CLUSTERS[cluster]
            claim.status.bind_time.FromDatetime(bind_time)

        def bind_untimed(claim: cluster_claim_pb2.ClusterClaim) -> None:
            claim.status.cluster = CLUSTERS[cluster]
            claim.status.ClearField("bind_time")

        def release(claim: cluster_claim_pb2.ClusterClaim) -> None:
            claim.status.ClearField("cluster")
            claim.status.ClearField("bind_time")

        def touch(claim: cluster_claim_pb2.ClusterClaim) -> None:
            claim.status.placement_reason = f"touched {uuid.uuid4()}"

        if what in ("bind", "bind-untimed", "release", "touch"):
            mutate = {"bind": bind, "bind-untimed": bind_untimed, "release": release, "touch": touch}[what]
            await self.claims.update_status(name, mutate)
        elif what == "require" and existing.HasField("delete_time"):
            with pytest.raises(FailedPrecondition):  # a claim being deleted keeps its spec
                await self.claims.update(existing, ["spec.requirements"])
        elif what == "require":
            existing.spec.requirements.cpu_millis, existing.spec.requirements.memory_bytes = cpu, memory
            await self.claims.update(existing, ["spec.requirements"])
        elif what == "delete":
            await self.claims.delete(name)
        else:
            await self.claims.remove_finalizer(name, CLAIM_FINALIZER)

    async def expected(self) -> dict[str, Usage]:
        """Each cluster's ``Usage`` as the claims' own rows say it."""
        async with self.db.session() as session:
            rows = (await session.scalars(sa.select(ClusterClaimRow))).all()
        sums = {name: [0] * 7 for name in CLUSTERS}
        for row in rows:
            claim = self.claims.to_message(row)
            if claim.HasField("delete_time") or not claim.status.cluster:
                continue
            cpu, memory = claim.spec.requirements.cpu_millis, claim.spec.requirements.memory_bytes
            since = claim.status.HasField("bind_time") and claim.status.bind_time.ToDatetime(tzinfo=UTC) > PROBE
            undeclared = cpu == 0 and memory == 0
            figures = [1, cpu, memory, undeclared, cpu * since, memory * since, undeclared and since]
            sums[claim.status.cluster] = [a + int(b) for a, b in zip(sums[claim.status.cluster], figures, strict=True)]
        return {name: Usage(*figures) for name, figures in sums.items()}

    async def usage(self) -> dict[str, Usage]:
        async with self.placement.locked() as (_clusters, usage):
            return usage


@settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(writes=st.lists(WRITES, max_size=20))
async def test_placement_sees_what_the_claims_say_after_any_sequence_of_writes(
    migrated: str, writes: list[Write]
) -> None:
    store = Store(migrated)
    try:
        await store.reset()
        for write in writes:
            await store.apply(write)
            assert await store.usage() == await store.expected(), write
    finally:
        await store.runtime.close()


async def test_claims_bound_before_the_migration_are_carried_over_and_downgrading_removes_the_table(
    database_url: str,
) -> None:
    await asyncio.to_thread(upgrade, DEFINITION.migrations_dir, database_url, "0002")
    engine = sa.create_engine(database_url)
    try:
        bound, deleting, unbound = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        with engine.begin() as connection:
            for uid, status, deleted in (
                (bound, '{"cluster": "clusters/a", "bind_time": "2026-12-04T11:00:00.250Z"}', None),
                (deleting, '{"cluster": "clusters/a"}', PROBE),
                (unbound, "{}", None),
            ):
                connection.execute(
                    sa.text(
                        "INSERT INTO clusters.cluster_claims (uid, name, parent, labels, annotations, create_time,"
                        " update_time, delete_time, etag, generation, reconciling, conditions, state, spec, status,"
                        " finalizers, status_fence) VALUES (:uid, :name, 'projects/acme', '{}', '{}', :now, :now,"
                        " :deleted, 'e', 1, false, '[]', 'READY',"
                        ' \'{"requirements": {"cpu_millis": 250, "memory_bytes": "1073741824"}}\','
                        " CAST(:status AS jsonb), '{}', 0)"
                    ),
                    {"uid": uid, "name": f"projects/acme/clusterclaims/{uid.hex[:8]}", "now": PROBE,
                     "deleted": deleted, "status": status},
                )
        await asyncio.to_thread(upgrade, DEFINITION.migrations_dir, database_url)
        with engine.connect() as connection:
            carried = connection.execute(sa.select(ClaimBindingRow.__table__)).all()
        assert [tuple(row) for row in carried] == [
            (bound, "clusters/a", 250, GIB, datetime(2026, 12, 4, 11, 0, 0, 250000, tzinfo=UTC))
        ]

        await asyncio.to_thread(command.downgrade, alembic_config(DEFINITION.migrations_dir, database_url), "0002")
        async with await psycopg.AsyncConnection.connect(libpq_url(database_url), autocommit=True) as connection:
            found = await (await connection.execute("SELECT to_regclass('clusters.claim_bindings')")).fetchone()
            # Claims are still written without the triggers' function.
            await connection.execute("UPDATE clusters.cluster_claims SET status = '{}'")
        assert found == (None,)
    finally:
        engine.dispose()
