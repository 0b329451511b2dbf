"""An app's ``metrics`` dependency as ServiceMonitors (issue 12): one per component that has a
port named ``metrics``, scraped at ``/metrics`` by the Prometheus the metrics addon installed
(its operator selects ServiceMonitors in every namespace). Rendered once the claim has
published its outputs, i.e. once the ServiceMonitor kind exists in the cluster."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from threeport.registry.v1alpha1 import application_pb2
from threeport_workload_delivery.domain import names

Manifest = dict[str, Any]
METRICS_PORT = "metrics"


def service_monitors(
    spec: application_pb2.ApplicationSpec,
    application: str,
    deployment: str,
    namespace: str,
    labels: Mapping[str, str],
    published: Mapping[str, object],
) -> list[Manifest]:
    """``published``: the dependencies whose claims have published outputs."""
    if not any(dep.type == "metrics" and name in published for name, dep in spec.dependencies.items()):
        return []
    found: list[Manifest] = []
    for component in sorted(spec.components):
        if not any(port.name == METRICS_PORT for port in spec.components[component].ports):
            continue
        selector = {names.DEPLOYMENT_LABEL: names.last_segment(deployment), names.COMPONENT_LABEL: component}
        found.append({
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "ServiceMonitor",
            "metadata": {"name": names.object_name(application, component), "namespace": namespace,
                         "labels": {**labels, names.COMPONENT_LABEL: component}},
            "spec": {"selector": {"matchLabels": selector},
                     "endpoints": [{"port": METRICS_PORT, "path": "/metrics"}]},
        })
    return found
