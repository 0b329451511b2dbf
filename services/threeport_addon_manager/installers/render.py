"""Rendering an addon version with values: its Kubernetes objects and its outputs.

Every template goes through Helm's own engine, in-process (the runtime's ``helm`` module): a ``helm`` chart as
it is, ``manifests`` and the catalog's output templates as the templates of a small chart made
for the occasion. So the catalog has one template language (Go templates with Sprig, `.Values`,
`.Release.Namespace`), the one chart authors already know.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from threeport.addons.v1alpha1 import addon_pb2
from threeport_addon_manager.installers.charts import ChartCache, ChartError, describe_chart
from threeport_runtime.helm import render_templates

OUTPUT_PREFIX = "templates/output-"


@dataclass(frozen=True)
class Rendered:
    objects: list[dict[str, Any]]
    outputs: dict[str, str]


async def render(
    addon: addon_pb2.Addon,
    version: addon_pb2.AddonVersion,
    values: Mapping[str, Any],
    *,
    release: str,
    charts: ChartCache,
) -> Rendered:
    """The objects and outputs of ``version`` of ``addon`` with ``values``; ChartError says why not."""
    namespace = addon.spec.namespace
    if addon.spec.installer == "helm":
        archive = await charts.fetch(version.chart)
        what = describe_chart(version.chart)
        texts = await asyncio.to_thread(_render_chart, archive, values, release, namespace, what)
    else:
        texts = await asyncio.to_thread(
            _render_templates,
            {"templates/manifests.yaml": version.manifests},
            values,
            release,
            namespace,
            f"the manifests of {addon.name} {version.version}",
        )
    objects = _objects(texts)
    outputs = await render_outputs(
        dict(addon.spec.outputs), values, release=release, namespace=namespace, what=f"the outputs of {addon.name}"
    )
    return Rendered(objects, outputs)


async def render_outputs(
    templates: Mapping[str, str], values: Mapping[str, Any], *, release: str, namespace: str, what: str
) -> dict[str, str]:
    """Each output template rendered with ``values`` (ChartError names the template's owner)."""
    if not templates:
        return {}
    files = {f"{OUTPUT_PREFIX}{name}.txt": text for name, text in templates.items()}
    rendered = await asyncio.to_thread(_render_templates, files, values, release, namespace, what)
    return {
        path.removeprefix(OUTPUT_PREFIX).removesuffix(".txt"): text.strip()
        for path, text in rendered.items()
        if path.startswith(OUTPUT_PREFIX)
    }


def _render_chart(chart: Path, values: Mapping[str, Any], release: str, namespace: str, what: str) -> dict[str, str]:
    rendered = render_templates(chart, values, release=release, namespace=namespace, what=what)
    # Keys are `<chart>/templates/x.yaml`; drop the chart's own name so outputs match either way.
    return {path.split("/", 1)[1] if "/" in path else path: text for path, text in rendered.items()}


def _render_templates(
    templates: Mapping[str, str], values: Mapping[str, Any], release: str, namespace: str, what: str
) -> dict[str, str]:
    with tempfile.TemporaryDirectory(prefix="threeport-addon-") as directory:
        root = Path(directory) / "addon"
        (root / "templates").mkdir(parents=True)
        (root / "Chart.yaml").write_text("apiVersion: v2\nname: addon\nversion: 0.0.0\n", encoding="utf-8")
        for path, text in templates.items():
            (root / path).write_text(text, encoding="utf-8")
        return _render_chart(root, values, release, namespace, what)


def _objects(texts: Mapping[str, str]) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for path in sorted(texts):
        if not path.endswith((".yaml", ".yml", ".json")) or path.startswith(OUTPUT_PREFIX):
            continue  # NOTES.txt and other text
        try:
            documents = list(yaml.safe_load_all(texts[path]))
        except yaml.YAMLError as error:
            raise ChartError(f"{path} renders to invalid YAML: {error}") from None
        for document in documents:
            if not document:
                continue
            if not isinstance(document, dict) or not document.get("kind") or not document.get("apiVersion"):
                raise ChartError(f"{path} renders a document that is not a Kubernetes object (no kind/apiVersion)")
            objects.append(document)
    return objects
