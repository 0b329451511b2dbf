"""Who owns a namespace in a cluster, as the Namespace object itself says it.

Every Namespace workload-delivery creates carries the Threeport labels (project, deployment) and
the ``threeport.io/owner`` annotation with the owning deployment's resource name. Before applying
into a namespace and before deleting anything, the reconciler checks the live object: a namespace
that exists and is not the deployment's (another project's, a system namespace, one made by hand
or by an addon) is never written to and never deleted. Namespaces made before the annotation
existed are recognised by their labels alone.

Cluster-scoped objects a deployment declares (CRDs, ClusterRoles... in `manifests` and `helm`
components, where the environment allows them) carry the same annotation, and the same rule
holds: one that exists and is not the deployment's is never written to, pruned or deleted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from threeport_workload_delivery.domain import names
from threeport_workload_delivery.domain.diffing import ObjectKey

OWNER_ANNOTATION = "threeport.io/owner"

Manifest = dict[str, Any]


def cluster_scoped(manifest: Mapping[str, Any]) -> bool:
    """Whether a rendered object is cluster-scoped: rendering puts every namespaced object into
    the deployment's namespace, so an object without one is the Namespace or cluster-scoped."""
    return not (manifest.get("metadata") or {}).get("namespace")


def marked(objects: list[Manifest], deployment: str) -> list[Manifest]:
    """The rendered objects with the Namespace and every cluster-scoped object marked as the
    deployment's, as they are applied.

    The mark is added here, not in rendering, so it is no part of a release's content: adding it
    made no new release of anything already running."""
    found: list[Manifest] = []
    for manifest in objects:
        if cluster_scoped(manifest):
            metadata = dict(manifest.get("metadata") or {})
            metadata["annotations"] = {**(metadata.get("annotations") or {}), OWNER_ANNOTATION: deployment}
            manifest = {**manifest, "metadata": metadata}
        found.append(manifest)
    return found


def owner_of(namespace: Mapping[str, Any]) -> str:
    """The deployment that owns a live Namespace (or cluster-scoped object), or "" if it is not
    a deployment's."""
    metadata = namespace.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    labels = metadata.get("labels") or {}
    project, deployment = labels.get(names.PROJECT_LABEL), labels.get(names.DEPLOYMENT_LABEL)
    if labels.get(names.MANAGED_BY) != "threeport" or not project or not deployment:
        return ""
    by_labels = f"projects/{project}/deployments/{deployment}"
    # The annotation names the owner; the labels must agree (an edited one is nobody's).
    owner = str(annotations.get(OWNER_ANNOTATION, by_labels))  # absent: made before the annotation existed
    return owner if owner == by_labels else ""


def refusal(live: Mapping[str, Any] | None, deployment: str) -> str | None:
    """Why ``deployment`` must not use this live Namespace (None: absent, or its own)."""
    if live is None:
        return None
    owner = owner_of(live)
    if owner == deployment:
        return None
    name = live.get("metadata", {}).get("name", "")
    if not owner:
        return (f"namespace {name!r} already exists and was not created by Threeport for this deployment; "
                "nothing is applied to it: set spec.namespace or the environment's namespace_template to another name")
    if names.project_of(owner) == names.project_of(deployment):
        return f"namespace {name!r} belongs to {owner}; give this deployment another spec.namespace"
    return (f"namespace {name!r} belongs to another project; nothing is applied to it: set spec.namespace or the "
            "environment's namespace_template to another name")


def object_refusal(live: Mapping[str, Any] | None, deployment: str) -> str | None:
    """Why ``deployment`` must not apply over this live cluster-scoped object (None: absent, or
    its own)."""
    if live is None or owner_of(live) == deployment:
        return None
    metadata = live.get("metadata") or {}
    return (f"{live.get('kind', 'object')} {metadata.get('name', '')!r} already exists in the cluster and is not "
            "this deployment's; nothing is applied: rename it in the component, or remove the other one")


def split_owned(
    live: Mapping[ObjectKey, Manifest], deployment: str
) -> tuple[dict[ObjectKey, Manifest], list[ObjectKey]]:
    """The live objects carrying the deployment's labels that it may delete (those in namespaces it
    owns, those namespaces, and cluster-scoped objects marked as its own), and the keys of the
    others, which are left alone."""
    namespaces = {key[3]: obj for key, obj in live.items() if key[1] == "Namespace"}
    owned = {name for name, obj in namespaces.items() if owner_of(obj) == deployment}
    mine: dict[ObjectKey, Manifest] = {}
    others: list[ObjectKey] = []
    for key, obj in live.items():
        scope = key[3] if key[1] == "Namespace" else key[2]
        if scope in owned or (key[1] != "Namespace" and not key[2] and owner_of(obj) == deployment):
            mine[key] = obj
        else:
            others.append(key)
    return mine, others
