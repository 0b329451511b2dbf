"""Scaling and disruption objects of a container component: a HorizontalPodAutoscaler
(autoscaling/v2) for ``autoscaling`` and a PodDisruptionBudget (policy/v1) for
``disruption_budget``.

An autoscaled workload is rendered without ``replicas``: the autoscaler owns that field, and
leaving it out of the applied configuration is what keeps server-side apply and drift repair
from setting it back on every pass (they compare and apply only what is rendered).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from threeport.registry.v1alpha1 import application_pb2

Manifest = dict[str, Any]
DEFAULT_CPU_UTILISATION = 80


def autoscaled(spec: application_pb2.Component) -> bool:
    return spec.HasField("autoscaling")


def _count_or_percent(text: str) -> int | str:
    return int(text) if text.isdigit() else text


def _metric(resource: str, utilisation: int) -> Manifest:
    return {"type": "Resource",
            "resource": {"name": resource, "target": {"type": "Utilization", "averageUtilization": utilisation}}}


def scaling_objects(
    spec: application_pb2.Component,
    workload: Manifest,
    metadata: Manifest,
    selector: Mapping[str, str],
) -> list[Manifest]:
    """The autoscaler and disruption budget of ``workload`` (a rendered Deployment or
    StatefulSet), each with ``metadata``."""
    objects: list[Manifest] = []
    if autoscaled(spec):
        scaling = spec.autoscaling
        metrics = []
        if scaling.cpu or not scaling.memory:
            metrics.append(_metric("cpu", scaling.cpu or DEFAULT_CPU_UTILISATION))
        if scaling.memory:
            metrics.append(_metric("memory", scaling.memory))
        objects.append({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": metadata,
            "spec": {"scaleTargetRef": {"apiVersion": workload["apiVersion"], "kind": workload["kind"],
                                        "name": workload["metadata"]["name"]},
                     "minReplicas": scaling.min, "maxReplicas": scaling.max, "metrics": metrics},
        })
    if spec.HasField("disruption_budget"):
        budget = spec.disruption_budget
        rule = ({"minAvailable": _count_or_percent(budget.min_available)} if budget.min_available
                else {"maxUnavailable": _count_or_percent(budget.max_unavailable)})
        objects.append({
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": metadata,
            "spec": {"selector": {"matchLabels": dict(selector)}, **rule},
        })
    return objects
