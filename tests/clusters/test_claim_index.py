"""The claims bound to a cluster are read through an index (migration 0002): every cluster
pass lists them, and reading every claim for it cost 7 ms at 10,000 claims. Both ways of asking
use it: a filter (``status.cluster = "C"``) and the names-only read a cluster pass makes."""

from __future__ import annotations

from typing import Any

import psycopg
from sqlalchemy import Select, select
from sqlalchemy.dialects import postgresql

from threeport_cluster_manager.service import DEFINITION
from threeport_cluster_manager.store.repositories import CLAIM_FILTER_FIELDS, claims_of
from threeport_cluster_manager.store.tables import ClusterClaimRow
from threeport_runtime.db.engine import libpq_url
from threeport_runtime.db.filters import compile_filter
from threeport_runtime.runtime import ServiceRuntime
from threeport_runtime.testing import make_settings


async def test_the_bound_claims_filter_uses_the_index_even_as_a_generic_prepared_plan(migrated: str) -> None:
    statement = select(ClusterClaimRow.name).where(
        compile_filter('status.cluster = "clusters/busy"', ClusterClaimRow, CLAIM_FILTER_FIELDS),
        ClusterClaimRow.delete_time.is_(None),
    )
    await assert_uses_the_index(migrated, statement)


async def test_the_names_of_the_bound_claims_are_read_through_the_index(migrated: str, stream_prefix: str) -> None:
    runtime = ServiceRuntime(make_settings("cluster_manager", migrated, stream_prefix), DEFINITION.schema)
    try:
        read = claims_of(runtime).names_with_read("status.cluster", parent=False, hide_deleting=True)
    finally:
        await runtime.close()
    await assert_uses_the_index(migrated, read.statement, {"value": "clusters/busy"})


async def assert_uses_the_index(database: str, statement: Select[Any], values: dict[str, str] | None = None) -> None:
    compiled = statement.compile(dialect=postgresql.dialect(paramstyle="numeric_dollar"))
    # The key is in the text; only the cluster's name is a parameter.
    parameters = {**compiled.params, **(values or {})}
    assert "->> 'cluster'" in str(compiled) and list(parameters.values()) == ["clusters/busy"]
    arguments = ", ".join(f"'{value}'" for value in parameters.values())
    async with await psycopg.AsyncConnection.connect(libpq_url(database), autocommit=True) as connection:
        # A generic plan is what a statement prepared and run many times ends up with: it can
        # use the expression index only if the key is not a parameter. Sequential scans off so
        # that the planner picks the index on an empty table whenever it can.
        await connection.execute("SET plan_cache_mode = force_generic_plan")
        await connection.execute("SET enable_seqscan = off")
        await connection.execute(f"PREPARE bound AS {compiled}")
        plan = [row[0] for row in await (await connection.execute(f"EXPLAIN EXECUTE bound({arguments})")).fetchall()]
    assert any("ix_cluster_claims_status_cluster" in line for line in plan), plan
