"""An app's ``ingress`` dependencies as Ingress objects, from the claim's outputs (issue 12).

The addon-manager's claim outputs say how: ``ingressClass`` (the controller to use),
``clusterIssuer`` (cert-manager's issuer, for ``tls: true``), ``host`` (the one the params
asked for, else the claim's ``default_host``: ``<app>-<env>.<environment domain>``, computed
here by ``default_host``). The params say what: ``component`` and ``port`` (the Service port, by name or
number), ``path`` (default ``/``), ``tls``. external-dns publishes the host from the Ingress
itself. A dependency whose claim has not published outputs yet renders nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf import json_format

from threeport.registry.v1alpha1 import application_pb2
from threeport_workload_delivery.domain import names

Manifest = dict[str, Any]
CLUSTER_ISSUER_ANNOTATION = "cert-manager.io/cluster-issuer"


def default_host(application: str, environment: str, domain: str) -> str:
    """``<application>-<environment>.<domain>``, the host an ingress gets when its params name
    none; '' when the environment has no domain. The first label is kept to 63 characters (a
    hash keeps long ones unique), as DNS requires."""
    if not domain:
        return ""
    return f"{names.object_name(application, environment)}.{domain}"


def ingresses(
    spec: application_pb2.ApplicationSpec,
    application: str,
    namespace: str,
    labels: Mapping[str, str],
    outputs: Mapping[str, Mapping[str, str]],
) -> list[Manifest]:
    """One Ingress per ``ingress`` dependency whose outputs (``outputs[dependency]``) are known."""
    found: list[Manifest] = []
    for dependency, declared in sorted(spec.dependencies.items()):
        published = outputs.get(dependency)
        if declared.type != "ingress" or published is None:
            continue
        params = json_format.MessageToDict(declared.params)
        host = str(published.get("host") or params.get("host") or "")
        component = str(params.get("component", ""))
        port = params.get("port", "")
        backend_port = {"number": int(port)} if isinstance(port, (int, float)) or str(port).isdigit() else {
            "name": str(port)}
        name = names.object_name(application, dependency)
        rule: Manifest = {"http": {"paths": [{
            "path": str(params.get("path") or "/"),
            "pathType": "Prefix",
            "backend": {"service": {"name": names.object_name(application, component), "port": backend_port}},
        }]}}
        if host:
            rule["host"] = host
        metadata: Manifest = {"name": name, "namespace": namespace, "labels": dict(labels)}
        ingress_spec: Manifest = {"rules": [rule]}
        if published.get("ingressClass"):
            ingress_spec["ingressClassName"] = published["ingressClass"]
        if params.get("tls") is True and host:
            ingress_spec["tls"] = [{"hosts": [host], "secretName": f"{name}-tls"}]
            if published.get("clusterIssuer"):
                metadata["annotations"] = {CLUSTER_ISSUER_ANNOTATION: published["clusterIssuer"]}
        found.append({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": metadata,
                      "spec": ingress_spec})
    return found
