"""Objects a component declares itself (``kind: manifests``, and what a ``kind: helm`` chart
renders), made into objects of the deployment like every other.

Each object gets the Threeport labels (so pruning, drift repair and deletion find it) and the
component label; workloads (Deployments, StatefulSets, DaemonSets, Jobs, CronJobs) get them on
their Pod template too, so rollout tracking sees their Pods. Namespaced objects go into the
deployment's namespace; cluster-scoped ones (CRDs, ClusterRoles, ...) only where the environment
allows them. Scope comes from the built-in kinds and the CRDs among the application's objects.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from threeport_model import kube_kinds
from threeport_runtime.kube.documents import DocumentError, load_objects
from threeport_workload_delivery.domain import names

Manifest = dict[str, Any]
POD_TEMPLATE_PATHS: Mapping[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}


class ObjectsError(ValueError):
    """The objects cannot be placed (unparsable, or cluster-scoped where that is not allowed)."""


def parse(component: str, text: str) -> list[Manifest]:
    try:
        return load_objects(text)
    except DocumentError as error:
        raise ObjectsError(f"component {component}: manifests {error}") from None


def scopes(objects: Iterable[Manifest]) -> dict[tuple[str, str], bool]:
    """(apiVersion, kind) -> namespaced, for built-in kinds and those the CRDs among ``objects`` define."""
    return kube_kinds.known_kinds(o for o in objects if (o.get("apiVersion"), o.get("kind")) == kube_kinds.CRD)


def place(
    component: str,
    objects: Iterable[Manifest],
    *,
    namespace: str,
    labels: Mapping[str, str],
    known: Mapping[tuple[str, str], bool],
    allow_cluster_scoped: bool,
    environment: str,
) -> list[Manifest]:
    """Copies of ``objects`` labelled and put into ``namespace`` (cluster-scoped ones left
    cluster-wide, if allowed)."""
    placed: list[Manifest] = []
    ours = {**labels, names.COMPONENT_LABEL: component}
    for original in objects:
        obj = copy.deepcopy(original)
        key = (str(obj.get("apiVersion")), str(obj.get("kind")))
        metadata = obj.setdefault("metadata", {})
        namespaced = known.get(key, True)  # a kind served by an addon's CRD: namespaced like most
        if namespaced:
            metadata["namespace"] = namespace
        elif not allow_cluster_scoped:
            raise ObjectsError(
                f"component {component}: {key[1]} {metadata.get('name')} is cluster-scoped, and environment "
                f"{environment} does not allow cluster-scoped objects (spec.allowClusterScoped)"
            )
        else:
            metadata.pop("namespace", None)
        metadata["labels"] = {**(metadata.get("labels") or {}), **ours}
        path = POD_TEMPLATE_PATHS.get(key[1])
        if path is not None:
            template = obj
            for part in path:
                template = template.setdefault(part, {})
            template_metadata = template.setdefault("metadata", {})
            template_metadata["labels"] = {**(template_metadata.get("labels") or {}), **ours}
        placed.append(obj)
    return placed
