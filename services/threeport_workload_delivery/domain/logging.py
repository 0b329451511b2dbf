"""An app's ``logging`` dependency as collection of its logs (issue 12).

The logging agent (the built-in ``fluent-bit``) does not ship every container's logs: it
collects the pods that carry the label its claim publishes as ``podLabel`` (``key=value``,
``threeport.io/logs=collect`` for the built-in one). An app that declares ``logging`` gets that
label on the pod templates of its workloads, so its logs, and only those of apps that asked,
reach Loki. A logging addon that publishes no ``podLabel`` collects on its own terms, and nothing
is added. Rendered once the claim has published its outputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from threeport.registry.v1alpha1 import application_pb2

Manifest = dict[str, Any]
POD_LABEL_OUTPUT = "podLabel"
WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job"})


def collection_labels(
    spec: application_pb2.ApplicationSpec, published: Mapping[str, Mapping[str, str]]
) -> dict[str, str]:
    """The pod labels the app's ``logging`` dependencies' agents select on (``published``: the
    outputs per dependency that has them)."""
    labels: dict[str, str] = {}
    for dependency, declared in sorted(spec.dependencies.items()):
        outputs = published.get(dependency)
        if declared.type != "logging" or outputs is None:
            continue
        key, _, value = str(outputs.get(POD_LABEL_OUTPUT, "")).partition("=")
        if key.strip():
            labels[key.strip()] = value.strip()
    return labels


def with_log_collection(
    objects: list[Manifest], spec: application_pb2.ApplicationSpec, published: Mapping[str, Mapping[str, str]]
) -> list[Manifest]:
    """``objects`` with the collection labels added to every workload's pod template (the
    workloads' selectors stay as they are: a selector cannot change, a template label can)."""
    labels = collection_labels(spec, published)
    if not labels:
        return objects
    result: list[Manifest] = []
    for manifest in objects:
        template = manifest.get("spec", {}).get("template") if manifest.get("kind") in WORKLOAD_KINDS else None
        if template is None:
            result.append(manifest)
            continue
        metadata = template.get("metadata", {})
        labelled = {**template, "metadata": {**metadata, "labels": {**metadata.get("labels", {}), **labels}}}
        result.append({**manifest, "spec": {**manifest["spec"], "template": labelled}})
    return result
