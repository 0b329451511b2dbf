"""The check of ``kind: helm`` components at apply: the chart is fetched (once per process, by
the runtime's ``helm.ChartCache``, the same code delivery renders with) and rendered with the
component's values, so a chart that cannot be downloaded, does not render, or whose values fail
its ``values.schema.json`` is INVALID_ARGUMENT naming the component's field, and nothing is
stored. Output references in values are rendered as placeholders (their values are known only
at deployment); a component whose helm fields are statically wrong is left to the validator.
"""

from __future__ import annotations

import asyncio
from typing import Any

from google.protobuf import json_format

from threeport.registry.v1alpha1 import application_pb2
from threeport_model import references
from threeport_registry.domain import component_kinds
from threeport_runtime import helm
from threeport_runtime.errors import FieldViolation, InvalidArgument

SCHEMA_FAILURE = "values don't meet the specifications of the schema"


def _placeholders(value: Any) -> Any:
    if isinstance(value, str):
        return references.substitute(value, lambda ref: f"<{ref.dependency}.{ref.output}>")
    if isinstance(value, dict):
        return {key: _placeholders(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_placeholders(item) for item in value]
    return value


def _checkable(source: application_pb2.HelmComponent) -> bool:
    return bool(source.version) and bool(source.repository) != bool(source.oci) and (
        bool(source.chart) or bool(source.oci))


async def check_charts(
    cache: helm.ChartCache, spec: application_pb2.ApplicationSpec, field: str = "application"
) -> None:
    """Raises INVALID_ARGUMENT for the first helm component whose chart cannot be used."""
    for name, component in sorted(spec.components.items()):
        if component_kinds.kind_of(component) != component_kinds.HELM or not _checkable(component.helm):
            continue
        source = component.helm
        at = f"{field}.spec.components[{name}].helm"
        repository = source.oci or source.repository
        values = _placeholders(json_format.MessageToDict(source.values)) if source.HasField("values") else {}
        try:
            archive, _ = await cache.fetch(repository, source.chart, source.version, source.digest,
                                           plain_http=source.plain_http)
            await asyncio.to_thread(helm.render_chart, archive, values, release=name, namespace="default",
                                    what=helm.describe_source(repository, source.chart, source.version))
        except helm.ChartError as error:
            where = f"{at}.values" if SCHEMA_FAILURE in str(error) else at
            raise InvalidArgument.for_fields([FieldViolation(where, str(error))]) from None
