"""The namespace guard: a deployment applies into a namespace only when the record says it owns
it in that cluster (``store.namespaces``) and the live Namespace, if it exists, says so too
(``domain.ownership``). Either refusal stops the reconcile before anything is written and is
reported as the ``Applied`` condition and a Warning event.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from threeport_runtime.kube.cache import ClusterCache
from threeport_runtime.kube.client import FIELD_MANAGER, KubeClient
from threeport_runtime.kube.errors import Conflict
from threeport_workload_delivery.domain import names, ownership
from threeport_workload_delivery.domain.diffing import object_key
from threeport_workload_delivery.domain.rendering import Manifest
from threeport_workload_delivery.pipeline.inputs import NotReady
from threeport_workload_delivery.store.namespaces import NamespaceClaims

NOT_OWNED = "NamespaceNotOwned"
OBJECT_NOT_OWNED = "ObjectNotOwned"
# Whoever holds the namespace may release it at any time: look again now and then.
RETRY_AFTER = 30.0


class NamespaceRefused(NotReady):
    """The deployment's namespace (or a cluster-scoped object it declares) is someone else's:
    nothing is applied."""

    def __init__(self, message: str, reason: str = NOT_OWNED):
        super().__init__(reason, message, RETRY_AFTER)


@dataclass(frozen=True)
class Taken:
    """The namespace a deployment took, and the (cluster, namespace) records it held before."""

    namespace: str
    held: list[tuple[str, str]]


def _reference(namespace: str) -> Manifest:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}


class NamespaceGuard:
    def __init__(self, claims: NamespaceClaims):
        self._claims = claims

    async def claim(self, cluster: str, namespace: str, deployment: str, fallback: str = "") -> Taken:
        """Takes the record of the namespace in the cluster (or else of ``fallback``) and returns
        the namespace taken; raises if another deployment has it. The records are read first, in
        one plain read: a namespace the deployment holds already (every steady reconcile) costs
        no write, and what else it holds is returned for ``release_gone``."""
        records = await self._claims.known(deployment, cluster, [n for n in (namespace, fallback) if n])
        owners = {(c, n): owner for c, n, owner in records}
        held = [key for key, owner in owners.items() if owner == deployment]
        return Taken(await self._take(cluster, namespace, deployment, fallback, owners), held)

    async def _take(self, cluster: str, namespace: str, deployment: str, fallback: str,
                    owners: Mapping[tuple[str, str], str]) -> str:
        owner = owners.get((cluster, namespace)) or await self._claims.take(cluster, namespace, deployment)
        if owner == deployment:
            return namespace
        if fallback:
            return await self._take(cluster, fallback, deployment, "", owners)
        if names.project_of(owner) == names.project_of(deployment):
            raise NamespaceRefused(f"namespace {namespace!r} in {cluster} is used by {owner}; "
                                   "give this deployment another spec.namespace")
        raise NamespaceRefused(f"namespace {namespace!r} in {cluster} belongs to another project; set "
                               "spec.namespace or the environment's namespace_template to another name")

    async def check_live(self, client: KubeClient, objects: Sequence[Manifest], namespace: str,
                         deployment: str, cache: ClusterCache | None = None) -> None:
        """Raises unless the live namespace is the deployment's own. An absent one is created
        at once, marked (a create, not an apply: if anyone made it since it was read, the
        server refuses and it is looked at again, so nothing made by others is taken over).

        A ``cache`` that holds Namespaces holds the namespace when it carries Threeport's labels;
        one it does not hold may still exist (someone else's), so that is asked of the API server."""
        live = (cache.get("v1", "Namespace", "", namespace)
                if cache is not None and cache.holds("v1", "Namespace") else None)
        if live is None:
            live = await client.get(_reference(namespace))
        if live is None:
            manifest = next((o for o in objects if object_key(o) == ("v1", "Namespace", "", namespace)), None)
            if manifest is None:
                return
            try:
                await client.request("POST", (await client.resource("v1", "Namespace")).collection_path(),
                                     what=f"creating namespace {namespace}", query=[("fieldManager", FIELD_MANAGER)],
                                     body=manifest)
                return
            except Conflict:
                live = await client.get(_reference(namespace))
        if problem := ownership.refusal(live, deployment):
            raise NamespaceRefused(problem)

    @staticmethod
    async def check_cluster_scoped(client: KubeClient, objects: Sequence[Manifest], deployment: str) -> None:
        """Raises if a cluster-scoped object the deployment declares exists and is someone else's
        (another deployment's, possibly another project's, or not Threeport's at all)."""
        for manifest in objects:
            if manifest.get("kind") == "Namespace" or not ownership.cluster_scoped(manifest):
                continue
            if problem := ownership.object_refusal(await client.get(manifest), deployment):
                raise NamespaceRefused(problem, OBJECT_NOT_OWNED)

    async def release_gone(self, deployment: str, cluster: str, keep: str, live: Collection[str],
                           held: Iterable[tuple[str, str]]) -> None:
        """Releases the deployment's claims in the cluster on namespaces it no longer uses and that
        are gone from it (a namespace being pruned keeps its claim until it has gone). ``held``
        is what ``claim`` read in the same pass: only this deployment's reconcile takes claims for
        it, so none can have been added since (if two overlapped while replicas handed the key
        over, a claim the other took waits for the next pass to be released)."""
        stale = [(c, n) for c, n in held if c == cluster and n != keep and n not in live]
        await self._claims.release(deployment, stale)

    async def release_all(self, deployment: str) -> None:
        """Releases every claim of a deployment whose objects are all gone."""
        await self._claims.release(deployment, await self._claims.held(deployment))
