"""The namespace record (``store.namespaces``) and the guard on it, against real Postgres: one
owner per (cluster, namespace), a kept earlier spelling falls back to the derived name when the
record shows it is someone else's, claims go only when their namespace has, and a namespace
someone makes between our read and our create is not taken over."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from threeport_runtime.db.engine import Database
from threeport_runtime.db.migrations import upgrade
from threeport_runtime.kube.discovery import Resource
from threeport_runtime.kube.errors import Conflict
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
        assert (await guard.claim("clusters/c", "a-x-y-dev", loser, fallback=derived)).namespace == derived
        with pytest.raises(NamespaceRefused) as refused:
            await guard.claim("clusters/c", "a-x-y-dev", loser)
        expected = "is used by" if winner.split("/")[1] == loser.split("/")[1] else "belongs to another project"
        assert expected in refused.value.message

        # A claim on a namespace still in the cluster stays; once it is gone it is released.
        await claims.take("clusters/c", "a-old", loser)
        # The next pass finds the namespace it holds, and what else it holds, in the same read.
        taken = await guard.claim("clusters/c", derived, loser)
        assert taken.namespace == derived
        assert sorted(taken.held) == [("clusters/c", "a-old"), ("clusters/c", derived)]
        await guard.release_gone(loser, "clusters/c", keep=derived, live={"a-old"}, held=taken.held)
        assert ("clusters/c", "a-old") in await claims.held(loser)
        await guard.release_gone(loser, "clusters/c", keep=derived, live=set(), held=taken.held)
        assert await claims.held(loser) == [("clusters/c", derived)]
        await guard.release_all(loser)
        assert await claims.held(loser) == []
        assert await claims.owners("a-x-y-dev") == sorted({winner, SIBLING})
    finally:
        await db.dispose()


class RacingCluster:
    """A cluster where someone else creates the namespace between our read and our create."""

    def __init__(self) -> None:
        self.reads = 0

    async def get(self, ref: dict[str, Any]) -> dict[str, Any] | None:
        self.reads += 1
        if self.reads == 1:
            return None
        return {"metadata": {"name": ref["metadata"]["name"], "labels": {"team": "someone-else"}}}

    async def resource(self, api_version: str, kind: str) -> Resource:
        return Resource(api_version=api_version, kind=kind, plural="namespaces", namespaced=False)

    async def request(self, method: str, path: str, **_: Any) -> Any:
        assert (method, path) == ("POST", "/api/v1/namespaces")
        raise Conflict("namespaces \"a-x-y-dev\" already exists")


async def test_a_namespace_made_by_someone_else_after_it_was_read_is_not_taken_over() -> None:
    guard = NamespaceGuard(NamespaceClaims(Database("postgresql+psycopg://unused/none")))
    rendered = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a-x-y-dev", "labels": {}}}]
    with pytest.raises(NamespaceRefused, match="not created by Threeport"):
        await guard.check_live(RacingCluster(), rendered, "a-x-y-dev", MINE)  # type: ignore[arg-type]
