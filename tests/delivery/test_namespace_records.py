"""The namespace record (``store.namespaces``) and the guard on it, against real Postgres: one
owner per (cluster, namespace), a kept earlier spelling falls back to the derived name when the
record shows it is someone else's, and claims go only when their namespace has."""

from __future__ import annotations

import asyncio

import pytest

from threeport_runtime.db.engine import Database
from threeport_runtime.db.migrations import upgrade
from threeport_workload_delivery.pipeline.namespaces import NamespaceGuard, NamespaceRefused
from threeport_workload_delivery.service import DEFINITION as DELIVERY
from threeport_workload_delivery.store.namespaces import NamespaceClaims

MINE, THEIRS, SIBLING = ("projects/a/deployments/x-y-dev", "projects/a-x/deployments/y-dev",
                         "projects/a/deployments/other-dev")


async def test_one_owner_per_namespace_and_cluster_fallback_and_release(database_url: str) -> None:
    await asyncio.to_thread(upgrade, DELIVERY.migrations_dir, database_url)
    db = Database(database_url)
    try:
        claims = NamespaceClaims(db)
        guard = NamespaceGuard(claims)
        # Concurrent takers: exactly one wins.
        owners = await asyncio.gather(*(claims.take("clusters/c", "a-x-y-dev", d) for d in (MINE, THEIRS, SIBLING)))
        assert len(set(owners)) == 1
        winner = owners[0]
        assert await claims.owners("a-x-y-dev") == [winner]
        # The same namespace in another cluster is another claim.
        assert await claims.take("clusters/d", "a-x-y-dev", SIBLING) == SIBLING

        loser = MINE if winner != MINE else THEIRS
        # A kept earlier spelling someone else holds falls back to the derived name.
        derived = "a-x-y-dev-28be6f27"
        assert await guard.claim("clusters/c", "a-x-y-dev", loser, fallback=derived) == derived
        with pytest.raises(NamespaceRefused) as refused:
            await guard.claim("clusters/c", "a-x-y-dev", loser)
        expected = "is used by" if winner.split("/")[1] == loser.split("/")[1] else "belongs to another project"
        assert expected in refused.value.message

        # A claim on a namespace still in the cluster stays; once it is gone it is released.
        await claims.take("clusters/c", "a-old", loser)
        await guard.release_gone(loser, "clusters/c", keep="a-x-y-dev-28be6f27", live={"a-old"})
        assert ("clusters/c", "a-old") in await claims.held(loser)
        await guard.release_gone(loser, "clusters/c", keep="a-x-y-dev-28be6f27", live=set())
        assert await claims.held(loser) == [("clusters/c", "a-x-y-dev-28be6f27")]
        await guard.release_all(loser)
        assert await claims.held(loser) == []
        assert await claims.owners("a-x-y-dev") == sorted({winner, SIBLING})
    finally:
        await db.dispose()
