"""Rendering Helm charts with real Helm, in-process (the ``helm-python-sdk`` library).

One helper for everything that renders charts: ``tptctl install`` (the control plane's own
chart), the addon-manager's chart addons and workload-delivery's ``kind: helm`` components (and
the registry's check of them at apply). ``ChartCache`` fetches pinned charts once per process.
Rendering is offline: templates run as ``helm template`` would run them (``lookup`` finds
nothing), and the result is the list of Kubernetes objects with the template each came from and its Helm hook, if any.

``helm_python`` is imported by the functions that use it, on first use: loading it maps Helm's Go
library and starts the Go runtime (~58 MB of RSS and six threads), which a service that never
renders a chart (workload-delivery and the registry, as long as no app has a ``kind: helm``
component) need not carry.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import tempfile
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

HOOK = "helm.sh/hook"
HOOK_WEIGHT = "helm.sh/hook-weight"


class ChartError(ValueError):
    """The chart or its values are not usable; the message says which and why (Helm's words)."""


@dataclass(frozen=True)
class RenderedObject:
    template: str
    body: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.body.get("kind", ""))

    @property
    def api_version(self) -> str:
        return str(self.body.get("apiVersion", ""))

    @property
    def name(self) -> str:
        return str(self.body.get("metadata", {}).get("name", ""))

    @property
    def hooks(self) -> tuple[str, ...]:
        """The Helm hook events (``pre-install``, ``post-upgrade``, ...); empty for plain objects."""
        annotations = self.body.get("metadata", {}).get("annotations") or {}
        return tuple(part.strip() for part in str(annotations.get(HOOK, "")).split(",") if part.strip())

    @property
    def hook_weight(self) -> int:
        annotations = self.body.get("metadata", {}).get("annotations") or {}
        try:
            return int(annotations.get(HOOK_WEIGHT, 0))
        except ValueError:
            return 0


def render_chart(
    chart: Path | str, values: Mapping[str, Any] | None = None, *, release: str, namespace: str, what: str = "",
    include_crds: bool = False,
) -> list[RenderedObject]:
    """Every object the chart renders with these values (merged over its defaults and checked
    against its values.schema.json); with ``include_crds`` first the CRDs of its ``crds/``
    folders, as ``helm template --include-crds`` (Helm installs them before the rest).
    ChartError starts with ``what`` as in ``render_templates``."""
    rendered = render_templates(chart, values, release=release, namespace=namespace, what=what)
    texts = dict(_crd_texts(chart, what)) if include_crds else {}
    objects: list[RenderedObject] = []
    for template, text in [*sorted(texts.items()), *sorted(rendered.items())]:
        if not template.endswith((".yaml", ".yml", ".json")):
            continue  # NOTES.txt and other text
        try:
            documents = list(yaml.safe_load_all(text))
        except yaml.YAMLError as error:
            raise ChartError(f"{what or f'chart {chart}'}: {template} renders to invalid YAML: {error}") from None
        for document in documents:
            if not document:
                continue
            if not isinstance(document, dict) or not document.get("kind") or not document.get("apiVersion"):
                raise ChartError(f"{what or f'chart {chart}'}: {template} renders a document that is not a "
                                 "Kubernetes object (no kind/apiVersion)")
            objects.append(RenderedObject(template, document))
    return objects


def _crd_texts(chart: Path | str, what: str) -> list[tuple[str, str]]:
    """(file, text) of the CRDs in the chart's and its subcharts' ``crds/`` folders (not templated)."""
    import helm_python  # on first use: see the module docstring
    try:
        loaded = helm_python.Chart.load(chart)
        return [(str(entry["filename"]), str(entry["data"])) for entry in loaded.crds]
    except helm_python.HelmError as error:
        raise ChartError(f"{what or f'chart {chart}'}: {error}") from None


def render_templates(
    chart: Path | str, values: Mapping[str, Any] | None = None, *, release: str, namespace: str, what: str = ""
) -> dict[str, str]:
    """The text of every template the chart renders (``<chart>/templates/x.yaml`` -> text), YAML
    or not; ChartError starts with ``what`` (default: the chart's path), then Helm's words."""
    import helm_python  # on first use: see the module docstring
    try:
        loaded = helm_python.Chart.load(chart)
        rendered: dict[str, str] = loaded.render(dict(values or {}), name=release, namespace=namespace, is_install=True)
    except helm_python.HelmError as error:
        raise ChartError(f"{what or f'chart {chart}'}: {error}") from None
    return rendered


def pull_chart(repository: str, name: str, version: str, destination: Path, *, plain_http: bool = False) -> Path:
    """Downloads one pinned chart version into ``destination``: from an HTTP repository
    (``repository`` its URL, ``name`` the chart) or an OCI registry (``repository`` an
    ``oci://`` reference, ``name`` appended when given); ``plain_http`` as Helm's --plain-http.
    Returns the archive; ChartError in Helm's words when it cannot be had."""
    import helm_python  # on first use: see the module docstring
    where = repository if repository.startswith("oci://") else f"{repository} {name}"
    destination.mkdir(parents=True, exist_ok=True)
    try:
        if repository.startswith("oci://"):
            reference = f"{repository.rstrip('/')}/{name}" if name else repository
            helm_python.pull(reference, version=version, destination=destination, plain_http=plain_http)
        else:
            helm_python.pull(name, repo_url=repository, version=version, destination=destination)
    except helm_python.HelmError as error:
        raise ChartError(f"chart {where} {version} could not be downloaded: {error}") from None
    archives = sorted(destination.glob("*.tgz"))
    if not archives:
        raise ChartError(f"chart {where} {version}: Helm reported success but wrote no archive")
    return archives[0]


def chart_digest(archive: Path) -> str:
    """``sha256:<hex>`` of a chart archive, as repository indexes and OCI layers carry it."""
    import helm_python  # on first use: see the module docstring
    digest: str = helm_python.digest(archive)
    return digest


def describe_source(repository: str, name: str, version: str) -> str:
    """``chart <repository> <name> <version>`` (an OCI reference names the chart itself)."""
    where = repository if repository.startswith("oci://") else f"{repository} {name}"
    return f"chart {where} {version}".strip()


class ChartCache:
    """Pinned charts (HTTP repository or OCI registry) fetched once per process, checked by digest.

    A chart is identified by (repository, name, version); the archive Helm downloads is kept in a
    per-process cache directory, so periodic reconciles do not download again. A digest given is
    compared with the archive's (``sha256:<hex>``, what repository indexes carry): a chart
    republished under the same version is refused, not used.

    Without a ``directory`` the cache makes its own temporary one on the first fetch (most
    processes never fetch a chart) and removes it when the cache is collected or the process
    exits: every service start made one before and none was ever removed.
    """

    def __init__(self, directory: Path | None = None):
        self._directory = directory
        self._locks: dict[str, asyncio.Lock] = {}

    def _root(self) -> Path:
        if self._directory is None:
            self._directory = Path(tempfile.mkdtemp(prefix="threeport-charts-"))
            weakref.finalize(self, shutil.rmtree, self._directory, ignore_errors=True)
        return self._directory

    async def fetch(
        self, repository: str, name: str, version: str, digest: str = "", *, plain_http: bool = False
    ) -> tuple[Path, str]:
        """The chart's archive on disk (downloaded on first use) and its digest."""
        key = hashlib.sha256(f"{repository}\0{name}\0{version}".encode()).hexdigest()[:16]
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            target = self._root() / key
            archives = sorted(target.glob("*.tgz")) if target.exists() else []
            if not archives:
                archives = [await asyncio.to_thread(pull_chart, repository, name, version, target,
                                                    plain_http=plain_http)]
            archive = archives[0]
        found = await asyncio.to_thread(chart_digest, archive)
        if digest and found != digest:
            raise ChartError(f"{describe_source(repository, name, version)}: the archive's digest is {found}, "
                             f"not {digest}")
        return archive, found


def parse_set(expression: str) -> dict[str, Any]:
    """A ``--set a.b=1,c=x`` expression, parsed by Helm's own rules."""
    import helm_python  # on first use: see the module docstring
    try:
        parsed: dict[str, Any] = helm_python.parse_set_string(expression)
    except helm_python.HelmError as error:
        raise ChartError(f"--set {expression!r}: {error}") from None
    return parsed


def merge_values(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``, maps merged key by key, as Helm merges ``-f`` files."""
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = merge_values(current, value)
        else:
            merged[key] = value
    return merged


def load_values(path: Path) -> dict[str, Any]:
    """A values file as a mapping; ChartError naming the file when it is not one."""
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ChartError(f"cannot read values file {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ChartError(f"values file {path} is not valid YAML: {error}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ChartError(f"values file {path} must be a YAML mapping at the top level")
    return loaded
