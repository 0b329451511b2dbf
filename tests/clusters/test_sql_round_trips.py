"""PostgreSQL round trips per steady reconcile of a bound cluster claim (issue 14), counted on the
cluster-manager's own engine for that controller's reconciles only (``tests.sql_counter``).

Was 8 (the claim and its cluster each read in a transaction, the finalizer and the no-op status
each on a read of their own); now the claim and its cluster, one plain read each.
"""

from __future__ import annotations

from tests.sql_counter import assert_steady, counted_controller, steady_runs

from .conftest import ClusterManager, Kube
from .test_placement import Spec, attach_ready, bound, claim


async def test_a_steady_claim_reconcile_is_two_plain_reads(manager: ClusterManager, kube: Kube) -> None:
    await attach_ready(manager, kube, "steady")
    placed = await bound(manager, (await claim(manager, "steady", Spec())).name)
    counter, enqueue = counted_controller(manager.service, "clusters.cluster_claim")
    assert_steady(await steady_runs(counter, enqueue, placed.name), limit=2)
