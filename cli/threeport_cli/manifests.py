"""Reads manifests (DESIGN §10.1) from files, folders and stdin into API resource messages.

A manifest is `apiVersion: threeport.io/v1alpha1`, `kind`, `metadata` (`name`, `project`,
`labels`, `annotations`) and `spec`. Score files (`apiVersion: score.dev/v1b1`) are recognised and
handed over as text: the registry converts them (ConvertScore), after tptctl has read their
`files[].source` (relative to the Score file; see `score_files`). Every problem is reported with the
file, the document's position in it and the field path, and nothing is sent until every
document has parsed.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml
from google.protobuf.message import Message

from threeport.sdk import resources
from threeport.sdk._index import ResourceType
from threeport_cli import yamlsafe
from threeport_cli.protojson import ManifestFieldError, parse_into, yaml_kind
from threeport_cli.score_files import SourceError, inline_sources

API_VERSION = "threeport.io/v1alpha1"
SCORE_API_VERSION = "score.dev/v1b1"
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
METADATA_FIELDS = {"name", "project", "labels", "annotations"}


class ManifestError(ValueError):
    """A manifest cannot be used; says where (file, document, field) and what to fix."""

    def __init__(self, source: str, message: str, field_path: str = "") -> None:
        where = f"{source}: {field_path}" if field_path else source
        super().__init__(f"{where}: {message}")
        self.source = source
        self.field_path = field_path
        self.detail = message


@dataclass
class Document:
    """One YAML document and where it came from (`file.yaml#2` for the second document)."""

    source: str
    data: Any
    text: str = ""
    # The folder relative paths in it are read from (a Score file's `files[].source`).
    base: Path = field(default_factory=Path)


@dataclass
class Manifest:
    """A manifest ready to send: the resource message, its full name and its parent."""

    source: str
    kind: str
    resource_type: ResourceType | None
    name: str
    parent: str
    resource_id: str
    message: Message | None = None
    score_yaml: str = ""
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def is_score(self) -> bool:
        return bool(self.score_yaml)


def _split_documents(text: str, source: str, base: Path) -> Iterator[Document]:
    try:
        raw = list(yamlsafe.load_all(text))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ManifestError(source, f"not valid YAML{where}: {problem}") from None
    # Re-split the text too, so a Score document can be passed on verbatim.
    chunks = _document_texts(text)
    numbered = [d for d in raw if d is not None]
    for index, data in enumerate(numbered, start=1):
        label = f"{source}#{index}" if len(numbered) > 1 else source
        chunk = chunks[index - 1] if len(chunks) == len(numbered) else yaml.safe_dump(data)
        yield Document(label, data, chunk, base)


def _document_texts(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    for line in io.StringIO(text):
        if line.rstrip() == "---":
            parts.append("".join(current))
            current = []
        else:
            current.append(line)
    parts.append("".join(current))
    return [p for p in parts if yaml.safe_load(p) is not None]


def read_documents(paths: Iterable[str], stdin: TextIO) -> list[Document]:
    """Every document of every file; folders are read recursively in name order; `-` is stdin."""
    documents: list[Document] = []
    for given in paths:
        if given == "-":
            documents.extend(_split_documents(stdin.read(), "<stdin>", Path.cwd()))
            continue
        path = Path(given)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix in MANIFEST_SUFFIXES and p.is_file())
            if not files:
                raise ManifestError(given, f"no {', '.join(MANIFEST_SUFFIXES)} files in this folder")
        elif path.is_file():
            files = [path]
        else:
            raise ManifestError(given, "no such file or folder")
        for file in files:
            try:
                text = file.read_text()
            except (OSError, UnicodeDecodeError) as error:
                raise ManifestError(str(file), f"cannot read it: {error}") from None
            documents.extend(_split_documents(text, str(file), file.parent))
    if not documents:
        raise ManifestError(", ".join(paths) or "-", "contains no manifests")
    return documents


def _require_mapping(value: Any, source: str, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ManifestError(source, f"must be a mapping, got {yaml_kind(value)}", path)
    return value


def _string_map(value: Any, source: str, path: str) -> dict[str, str]:
    mapping = _require_mapping(value or {}, source, path)
    for key, item in mapping.items():
        if not isinstance(item, str | int | float | bool):
            raise ManifestError(source, "values must be strings", f"{path}.{key}")
    return {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in mapping.items()}


def _project_of(metadata: dict[str, Any], source: str, default_project: str, required_project: str) -> str:
    given = metadata.get("project")
    if required_project and given and given != required_project:
        raise ManifestError(source, f"says project {given!r} but --project is {required_project!r}; "
                            "make them agree or drop one", "metadata.project")
    return str(given or default_project or "")


def manifest_kinds() -> list[str]:
    return sorted(t.kind for t in resources.INDEX.types if t.kind)


def parse_document(document: Document, default_project: str, required_project: str = "") -> Manifest:
    """Turns one document into a Manifest, or raises ManifestError naming the field.
    ``required_project`` (from ``-p``) must agree with the manifest's ``metadata.project``."""
    source = document.source
    data = _require_mapping(document.data, source, "")
    api_version = data.get("apiVersion")
    if api_version == SCORE_API_VERSION:
        return _parse_score(document, data, default_project, required_project)
    if api_version != API_VERSION:
        raise ManifestError(
            source, f"apiVersion must be {API_VERSION!r} (or {SCORE_API_VERSION!r} for Score), "
            f"got {api_version!r}", "apiVersion",
        )
    kind = data.get("kind")
    resource_type = resources.INDEX.find(kind) if isinstance(kind, str) else None
    if resource_type is None or resource_type.kind != kind:
        raise ManifestError(source, f"unknown kind {kind!r}; kinds: {', '.join(manifest_kinds())}", "kind")
    unknown = set(data) - {"apiVersion", "kind", "metadata", "spec"}
    if unknown:
        raise ManifestError(source, "unknown top-level field; allowed: apiVersion, kind, metadata, spec",
                            sorted(unknown)[0])
    metadata = _require_mapping(data.get("metadata"), source, "metadata")
    for key in metadata:
        if key not in METADATA_FIELDS:
            raise ManifestError(source, f"unknown field; metadata has: {', '.join(sorted(METADATA_FIELDS))}",
                                f"metadata.{key}")
    resource_id = metadata.get("name")
    if not isinstance(resource_id, str) or not resource_id:
        raise ManifestError(source, "required: the resource's id, e.g. `shop`", "metadata.name")
    pattern = resource_type.patterns[0]
    project = _project_of(metadata, source, default_project, required_project)
    if pattern.startswith("projects/") and pattern != "projects/{project}":
        if not project:
            raise ManifestError(source, "no project: set metadata.project, pass --project, or set "
                                "one in the context (tptctl config set-context)", "metadata.project")
        parent = f"projects/{project}"
    elif "project" in metadata:
        raise ManifestError(source, f"{kind} is global (operator-owned); remove metadata.project",
                            "metadata.project")
    else:
        parent = ""
    collection = f"{parent}/{resource_type.plural}" if parent else resource_type.plural
    name = f"{collection}/{resource_id}"
    message = resource_type.message_type(name=name)
    labels = _string_map(metadata.get("labels"), source, "metadata.labels")
    message.labels.update(labels)  # type: ignore[attr-defined]
    message.annotations.update(_string_map(metadata.get("annotations"), source, "metadata.annotations"))  # type: ignore[attr-defined]
    spec = data.get("spec")
    if spec is None:
        raise ManifestError(source, f"required: the {kind}'s spec", "spec")
    spec_message = message.spec  # type: ignore[attr-defined]
    if kind == "Application" and isinstance(spec, dict):
        spec = _manifest_lists_as_text(spec)
    try:
        parse_into(_require_mapping(spec, source, "spec"), spec_message, "spec")
    except ManifestFieldError as error:
        raise ManifestError(source, error.detail, error.path) from None
    return Manifest(source, kind, resource_type, name, parent, resource_id, message, labels=labels)


def _manifest_lists_as_text(spec: dict[str, Any]) -> dict[str, Any]:
    """``manifests:`` of a component may be a list of objects as well as YAML text (the API's
    form): a list is written as one YAML document per object, in order."""
    components = spec.get("components")
    if not isinstance(components, dict):
        return spec
    rewritten = dict(components)
    for name, component in components.items():
        if isinstance(component, dict) and isinstance(component.get("manifests"), list):
            text = yaml.safe_dump_all(component["manifests"], sort_keys=False)
            rewritten[name] = {**component, "manifests": text}
    return {**spec, "components": rewritten}


def _parse_score(document: Document, data: dict[str, Any], default_project: str, required_project: str) -> Manifest:
    source = document.source
    metadata = _require_mapping(data.get("metadata"), source, "metadata")
    resource_id = metadata.get("name")
    if not isinstance(resource_id, str) or not resource_id:
        raise ManifestError(source, "required: the workload's name", "metadata.name")
    project = _project_of(metadata, source, default_project, required_project)
    if not project:
        raise ManifestError(
            source, "no project: pass --project or set one in the context", "metadata.project")
    parent = f"projects/{project}"
    application = resources.lookup("Application")
    text = document.text
    try:
        if inline_sources(data, document.base):
            text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    except SourceError as error:
        raise ManifestError(source, str(error), error.field_path) from None
    return Manifest(
        source, "Application", application, f"{parent}/applications/{resource_id}", parent, resource_id,
        score_yaml=text,
    )


def load(paths: Iterable[str], stdin: TextIO, default_project: str, required_project: str = "") -> list[Manifest]:
    """Reads and parses everything first, so that one bad document means nothing is sent.
    ``required_project`` is the project given with ``-p``: a manifest naming another is an error."""
    documents = read_documents(list(paths), stdin)
    manifests = [parse_document(d, default_project, required_project) for d in documents]
    seen: dict[str, str] = {}
    for manifest in manifests:
        if manifest.name in seen:
            raise ManifestError(manifest.source, f"{manifest.name} is also defined in {seen[manifest.name]}")
        seen[manifest.name] = manifest.source
    return manifests
