"""Per-environment (and per-deployment) overrides merged into an application's components.

The order is fixed: the application's own values, then the environment's ``overrides`` for this
application, then the deployment's. Per component: ``replicas`` replaces; ``env`` sets or replaces
keys (the others stay); each set field of ``resources`` (cpu, memory, limits.cpu, limits.memory)
replaces that one; Helm ``values`` deep-merge (maps key by key, anything else replaces).

``merge`` also says where every effective value came from, which ``tptctl plan`` prints. Pure:
it reads nothing, so the reconciler and Plan merge identically.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format

from threeport.delivery.v1alpha1 import deployment_pb2
from threeport.registry.v1alpha1 import application_pb2, environment_pb2

APPLICATION_SOURCE = "application"
RESOURCE_FIELDS = ("cpu", "memory", "limits.cpu", "limits.memory")


@dataclass(frozen=True)
class Layer:
    """One set of overrides and where it comes from (``environment/prod``, ``deployment/x``)."""

    source: str
    overrides: Sequence[environment_pb2.ComponentOverride]


@dataclass
class Merged:
    """The application spec with every layer applied, and each value's origin."""

    spec: application_pb2.ApplicationSpec
    provenance: list[deployment_pb2.MergedValue]
    # Per component, the Helm values the overrides contribute, merged over each other; for a
    # `kind: helm` component they are also merged into ``spec``'s values, which the chart gets.
    values: dict[str, dict[str, Any]] = field(default_factory=dict)


def layers_for(application: str, environment: environment_pb2.Environment,
               deployment: deployment_pb2.Deployment) -> list[Layer]:
    """The environment's overrides for ``application``, then the deployment's."""
    env_id = environment.name.rsplit("/", 1)[-1]
    deployment_id = deployment.name.rsplit("/", 1)[-1]
    return [
        Layer(f"environment/{env_id}", [o for o in environment.spec.overrides if o.application == application]),
        Layer(f"deployment/{deployment_id}",
              [o for o in deployment.spec.overrides if o.application in ("", application)]),
    ]


def merge_values(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` deep-merged into ``base``: maps merge key by key; lists and scalars replace."""
    result = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merge_values(result[key], value)
        else:
            result[key] = value
    return result


def _integral(value: Any) -> Any:
    """A Struct's numbers are doubles: give whole numbers back as ints (``replicaCount: 2``)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


def _leaves(values: Mapping[str, Any], prefix: str) -> Iterable[tuple[str, Any]]:
    for key in sorted(values):
        value = values[key]
        path = f"{prefix}.{key}"
        if isinstance(value, Mapping) and value:
            yield from _leaves(value, path)
        else:
            yield path, value


def _resource(resources: application_pb2.Resources, path: str) -> str:
    target: Any = resources
    for part in path.split("."):
        target = getattr(target, part)
    return str(target)


def _set_resource(resources: application_pb2.Resources, path: str, value: str) -> None:
    if path.startswith("limits."):
        setattr(resources.limits, path.removeprefix("limits."), value)
    else:
        setattr(resources, path, value)


def merge(spec: application_pb2.ApplicationSpec, layers: Sequence[Layer]) -> Merged:
    merged = application_pb2.ApplicationSpec()
    merged.CopyFrom(spec)
    origins: dict[tuple[str, str], str] = {}
    values: dict[str, dict[str, Any]] = {}
    for layer in layers:
        for override in layer.overrides:
            if override.component not in merged.components:
                continue  # refused at apply; a component removed since then no longer has overrides
            component = merged.components[override.component]
            name = override.component
            if override.HasField("replicas"):
                component.replicas = override.replicas
                origins[(name, "replicas")] = layer.source
            for key in sorted(override.env):
                component.env[key] = override.env[key]
                origins[(name, f"env.{key}")] = layer.source
            for path in RESOURCE_FIELDS:
                value = _resource(override.resources, path)
                if value:
                    _set_resource(component.resources, path, value)
                    origins[(name, f"resources.{path}")] = layer.source
            if override.HasField("values"):
                added = _integral(json_format.MessageToDict(override.values))
                values[name] = merge_values(values.get(name, {}), added)
                for path, _ in _leaves(added, "values"):
                    origins[(name, path)] = layer.source
    for name, added in values.items():
        component = merged.components[name]
        if component.kind == "helm":
            # Into the spec a release snapshots, so rollback restores the values as they were.
            chart_values = merge_values(_integral(json_format.MessageToDict(component.helm.values)), added)
            component.helm.values.Clear()
            json_format.ParseDict(chart_values, component.helm.values)
    provenance: list[deployment_pb2.MergedValue] = []
    for name in sorted(merged.components):
        component = merged.components[name]

        def add(path: str, value: str, component_name: str = name) -> None:
            provenance.append(deployment_pb2.MergedValue(
                component=component_name, field=path, value=value,
                source=origins.get((component_name, path), APPLICATION_SOURCE)))

        add("replicas", str(component.replicas or 1))
        for key in sorted(component.env):
            add(f"env.{key}", component.env[key])
        for path in RESOURCE_FIELDS:
            if value := _resource(component.resources, path):
                add(f"resources.{path}", value)
        for path, value in _leaves(values.get(name, {}), "values"):
            add(path, value if isinstance(value, str) else json.dumps(value))
    return Merged(merged, provenance, values)

