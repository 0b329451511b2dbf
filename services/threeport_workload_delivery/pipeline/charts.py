"""Rendering the charts of ``kind: helm`` components with real Helm (``threeport_runtime.helm``,
the one implementation the addon-manager uses too): fetch the pinned chart, render it with the
component's values, keep what is to be applied. Done before planning, because a plan is pure.

The digest of every chart used is written into the spec being rendered, so the release's
snapshot pins the exact archive: a rollback re-renders that archive with those values, and a
chart republished under the same version is refused rather than silently used.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from threeport.registry.v1alpha1 import application_pb2
from threeport_runtime import helm
from threeport_workload_delivery.domain import render_helm
from threeport_workload_delivery.domain.rendering import DependencyOutputs, RenderError

Manifest = dict[str, Any]


async def render_charts(
    cache: helm.ChartCache,
    spec: application_pb2.ApplicationSpec,
    *,
    application: str,
    namespace: str,
    dependencies: Mapping[str, DependencyOutputs],
) -> dict[str, list[Manifest]]:
    """Per helm component, the objects its chart renders (``spec``'s digests are pinned);
    RenderError saying which component and, in Helm's words, why not."""
    rendered: dict[str, list[Manifest]] = {}
    for component, source in render_helm.chart_sources(spec).items():
        repository = source.oci or source.repository
        try:
            values = render_helm.chart_values(component, source, dependencies)
            archive, digest = await cache.fetch(
                repository, source.chart, source.version, source.digest, plain_http=source.plain_http
            )
            objects = await asyncio.to_thread(
                helm.render_chart, archive, values,
                release=render_helm.release_name(application, component), namespace=namespace,
                what=helm.describe_source(repository, source.chart, source.version), include_crds=True,
            )
        except (helm.ChartError, render_helm.ValuesError) as error:
            raise RenderError(f"component {component}: {error}") from None
        spec.components[component].helm.digest = digest
        rendered[component] = [o.body for o in objects if render_helm.deployable(o.hooks)]
    return rendered
