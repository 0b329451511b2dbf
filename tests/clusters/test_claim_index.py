"""The claims bound to a cluster are read through an index (migration 0002): every cluster
pass lists them, and reading every claim for it cost 7 ms at 10,000 claims."""

from __future__ import annotations

import psycopg
from sqlalchemy import select
from sqlalchemy.dialects import postgresql

from threeport_cluster_manager.store.repositories import CLAIM_FILTER_FIELDS
from threeport_cluster_manager.store.tables import ClusterClaimRow
from threeport_runtime.db.engine import libpq_url
from threeport_runtime.db.filters import compile_filter


async def test_the_bound_claims_filter_uses_the_index_even_as_a_generic_prepared_plan(migrated: str) -> None:
    statement = select(ClusterClaimRow.name).where(
        compile_filter('status.cluster = "clusters/busy"', ClusterClaimRow, CLAIM_FILTER_FIELDS),
        ClusterClaimRow.delete_time.is_(None),
    )
    compiled = statement.compile(dialect=postgresql.dialect(paramstyle="numeric_dollar"))
    # The key is in the text; only the cluster's name is a parameter.
    assert "->> 'cluster'" in str(compiled) and list(compiled.params.values()) == ["clusters/busy"]
    values = ", ".join(f"'{value}'" for value in compiled.params.values())
    async with await psycopg.AsyncConnection.connect(libpq_url(migrated), autocommit=True) as connection:
        # A generic plan is what a statement prepared and run many times ends up with: it can
        # use the expression index only if the key is not a parameter. Sequential scans off so
        # that the planner picks the index on an empty table whenever it can.
        await connection.execute("SET plan_cache_mode = force_generic_plan")
        await connection.execute("SET enable_seqscan = off")
        await connection.execute(f"PREPARE bound AS {compiled}")
        plan = [row[0] for row in await (await connection.execute(f"EXPLAIN EXECUTE bound({values})")).fetchall()]
    assert any("ix_cluster_claims_status_cluster" in line for line in plan), plan
