"""``kind: helm`` components: the values a chart is rendered with, and the Secret through which
a chart reaches secret dependency outputs.

Values may reference non-secret outputs (``${dependencies.db.host}``), substituted here before
Helm sees them. Secret outputs never become values (values are stored in releases and shown in
plans): every secret output of the application's dependencies is put into the Secret
``<app>-<component>-outputs`` in the deployment's namespace, keyed ``<dependency>.<output>``,
and a chart uses it the way charts take existing secrets, e.g.
``values: {auth: {existingSecret: ledger-charts-outputs, secretKey: db.password}}``.
Rendering the chart itself (I/O: the chart archive) happens in ``pipeline.charts``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from google.protobuf import json_format

from threeport.registry.v1alpha1 import application_pb2
from threeport_model import references
from threeport_workload_delivery.domain import names

Manifest = dict[str, Any]
OUTPUTS_SUFFIX = "outputs"
TEST_HOOKS = ("test", "test-success", "test-failure")


class ValuesError(ValueError):
    """A value references an output that is not a published non-secret output."""


Lookup = Any  # Mapping[str, DependencyOutputs]; typed loosely to avoid an import cycle with rendering


def chart_values(component: str, helm: application_pb2.HelmComponent, dependencies: Lookup) -> dict[str, Any]:
    """The component's values with every output reference substituted."""
    values: dict[str, Any] = json_format.MessageToDict(helm.values) if helm.HasField("values") else {}
    substituted: dict[str, Any] = _substitute(values, component, dependencies)
    return substituted


def _substitute(value: Any, component: str, dependencies: Lookup) -> Any:
    if isinstance(value, str):
        def resolve(ref: references.OutputReference) -> str:
            outputs = dependencies.get(ref.dependency)
            found = outputs.lookup(ref.output) if outputs is not None else None
            if found is None or found[1]:
                raise ValuesError(
                    f"component {component}: helm values reference {ref}, which is not a published non-secret "
                    f"output (a chart reads secret outputs from the Secret "
                    f"{{application}}-{component}-{OUTPUTS_SUFFIX})"
                )
            return str(found[0])

        return references.substitute(value, resolve)
    if isinstance(value, dict):
        return {key: _substitute(item, component, dependencies) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item, component, dependencies) for item in value]
    return value


def outputs_secret(application: str, component: str, dependencies: Lookup, metadata: Manifest) -> Manifest | None:
    """The Secret with every secret output, or None when no dependency publishes one."""
    data: dict[str, str] = {}
    for dependency in sorted(dependencies):
        outputs = dependencies[dependency]
        for output in sorted({*outputs.values, *outputs.secrets}):
            found = outputs.lookup(output)
            if found is not None and found[1]:
                data[f"{dependency}.{output}"] = base64.b64encode(found[0].encode()).decode()
    if not data:
        return None
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {**metadata, "name": outputs_secret_name(application, component)}, "data": data}


def outputs_secret_name(application: str, component: str) -> str:
    return names.object_name(application, component, OUTPUTS_SUFFIX)


def release_name(application: str, component: str) -> str:
    """The Helm release name the chart is rendered with (``.Release.Name``)."""
    return names.object_name(application, component)


def deployable(hooks: tuple[str, ...]) -> bool:
    """Whether an object the chart rendered is applied: everything but `helm test` hooks (other
    hook objects are applied as ordinary objects of the release)."""
    return not any(hook in TEST_HOOKS for hook in hooks)


def chart_sources(spec: application_pb2.ApplicationSpec) -> Mapping[str, application_pb2.HelmComponent]:
    return {name: c.helm for name, c in sorted(spec.components.items()) if c.kind == "helm"}
