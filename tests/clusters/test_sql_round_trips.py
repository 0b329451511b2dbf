"""PostgreSQL round trips per steady reconcile of a bound cluster claim (issue 14), counted on the
cluster-manager's own engine for that controller's reconciles only (``tests.sql_counter``).

Was 8 (the claim and its cluster each read in a transaction, the finalizer and the no-op status
each on a read of their own); now the claim and its cluster, one plain read each.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.sql_counter import assert_steady, counted_controller, steady_runs
from threeport.common.v1alpha1 import change_event_pb2
from threeport_cluster_manager.reconcilers.revisit import ClaimsToRevisit
from threeport_cluster_manager.store.repositories import claims_of, clusters_of
from threeport_runtime.testing import wait_until

from .conftest import ClusterManager, Kube
from .helpers import WITHIN, is_true
from .test_health import PRODUCTION_PROBING
from .test_placement import Spec, attach_ready, bound, claim


async def test_a_steady_claim_reconcile_is_two_plain_reads(manager: ClusterManager, kube: Kube) -> None:
    await attach_ready(manager, kube, "steady")
    placed = await bound(manager, (await claim(manager, "steady", Spec())).name)
    counter, enqueue = counted_controller(manager.service, "clusters.cluster_claim")
    assert_steady(await steady_runs(counter, enqueue, placed.name), limit=2)


@pytest.mark.parametrize("manager_env", [PRODUCTION_PROBING], indirect=True)
async def test_placing_a_claim_reads_every_cluster_and_claim_count_in_one_statement(
    manager: ClusterManager, kube: Kube, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Placement's reads do not grow with clusters or claims: every cluster's etag with its bound
    claims' counts and requests is one statement (between taking and releasing the placement
    lock), and only clusters written since the previous placement are read whole and converted
    (with the production probe interval, at most the one the previous placement bound to)."""
    for index in range(3):
        await attach_ready(manager, kube, f"spread{index}")
    for index in range(3):
        await bound(manager, (await claim(manager, f"earlier-{index}", Spec())).name)
    clusters = clusters_of(manager.service.runtime)
    converted: list[str] = []
    convert = clusters.to_message

    def counting(row: Any) -> Any:
        converted.append(row.name)
        return convert(row)

    monkeypatch.setattr(clusters, "to_message", counting)
    counter, _enqueue = counted_controller(manager.service, "clusters.cluster_claim")
    placed = await bound(manager, (await claim(manager, "counted", Spec())).name)
    runs = [run for run in counter.take(placed.name) if any("pg_advisory_xact_lock" in s for s in run.statements)]
    assert len(runs) == 1, [run.show() for run in runs]
    aggregates = [s for s in runs[0].statements if s.startswith("WITH probed") and "claim_bindings" in s]
    assert len(aggregates) == 1, runs[0].show()
    reads = [s for s in runs[0].statements if s.startswith("SELECT clusters.clusters.")]
    assert all(" IN (" in s for s in reads), runs[0].show()
    assert len(converted) <= 1, converted
    # The claim's read, the lock's transaction (begin, lock, read(s), commit), the binding with its
    # event (one statement: it writes from the claim as the pass read it), the Placed event.
    bindings = [s for s in runs[0].statements if s.startswith("WITH updated AS (UPDATE clusters.cluster_claims")]
    assert len(bindings) == 1 and not [s for s in runs[0].statements if s.startswith("UPDATE")], runs[0].show()
    assert runs[0].round_trips <= 14, runs[0].show()


async def test_a_cluster_pass_writes_the_claims_bound_to_it_with_one_statement(
    manager: ClusterManager, kube: Kube
) -> None:
    """Each binding wakes its cluster, whose pass records the claims it holds (``InUse``): from
    the cluster as the pass read it, one statement (the row and its change event) rather than a
    locked transaction, and the finalizer checked on that read (12,111 such passes while
    10,000 deployments converged over 100 clusters)."""
    attached = await attach_ready(manager, kube, "holder")
    counter, _enqueue = counted_controller(manager.service, "clusters.cluster")
    placed = await bound(manager, (await claim(manager, "held", Spec())).name)
    assert placed.status.cluster == attached.name
    recorded: list[Any] = []

    async def claims_written() -> bool:
        recorded.extend(run for run in counter.take(attached.name)
                        if any(s.startswith("WITH updated AS (UPDATE clusters.clusters") for s in run.statements))
        return bool(recorded)

    await wait_until(claims_written, within=WITHIN, interval=0.1, what="the cluster's pass to record its claim")
    run = recorded[0]
    assert not [s for s in run.statements if "FOR UPDATE" in s or s.startswith("UPDATE")], run.show()
    found = await manager.client.cluster.get_cluster(name=attached.name)
    assert is_true(found, "InUse")


async def test_a_clusters_change_event_finds_the_claims_to_revisit_by_name_only(
    manager: ClusterManager, kube: Kube, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Which claims a cluster's event re-queues is a names-only read: converting every bound or
    pending claim made each event cost O(claims) messages (a third of the cluster-manager's CPU
    converging 10,000 deployments)."""
    await attach_ready(manager, kube, "revisit")
    placed = [await bound(manager, (await claim(manager, f"revisit-{i}", Spec())).name) for i in range(3)]
    claims = claims_of(manager.service.runtime)
    monkeypatch.setattr(claims, "to_message", refuse_conversion)
    revisit = ClaimsToRevisit(claims, clusters_of(manager.service.runtime))
    event = change_event_pb2.ChangeEvent(name=placed[0].status.cluster, change=change_event_pb2.CHANGE_TYPE_UPDATED)
    assert set(await revisit(event)) >= {claim.name for claim in placed}


def refuse_conversion(*_args: Any) -> None:
    raise AssertionError("a claim was converted to find which claims to revisit")
