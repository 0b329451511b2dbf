"""Score's ``files[].source``: read by tptctl at apply time, as Score implementations do.

A file's ``source`` is a path relative to the Score file (or absolute). Its bytes replace the
``source``: text (UTF-8) becomes ``content``, so placeholders in it are expanded unless the entry
says ``noExpand``; anything else becomes ``binaryContent`` (base64). The registry then converts
the file as if it had been written inline; it refuses ``source`` itself, having no files to read.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

MAX_FILE_BYTES = 1024 * 1024  # a component's files share one ConfigMap


class SourceError(ValueError):
    """A ``source`` that cannot be read; ``field_path`` is the Score path of the entry."""

    def __init__(self, field_path: str, message: str) -> None:
        super().__init__(message)
        self.field_path = field_path


def inline_sources(document: dict[str, Any], base: Path) -> bool:
    """Replaces every ``source`` under ``containers.*.files`` in place; True if any was found."""
    changed = False
    containers = document.get("containers")
    if not isinstance(containers, dict):
        return False
    for container_name, container in containers.items():
        files = container.get("files") if isinstance(container, dict) else None
        at = f"containers.{container_name}.files"
        entries: list[tuple[str, Any]] = []
        if isinstance(files, list):
            entries = [(f"{at}[{i}]", item) for i, item in enumerate(files)]
        elif isinstance(files, dict):
            entries = [(f"{at}[{target}]", item) for target, item in files.items()]
        for entry_at, entry in entries:
            if isinstance(entry, dict) and "source" in entry:
                _inline(entry, base, f"{entry_at}.source")
                changed = True
    return changed


def _inline(entry: dict[str, Any], base: Path, at: str) -> None:
    source = entry["source"]
    if not isinstance(source, str) or not source:
        raise SourceError(at, "must be a file path (relative to the Score file)")
    path = base / source
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SourceError(at, f"cannot read {path}: {error.strerror or error}") from None
    if len(data) > MAX_FILE_BYTES:
        raise SourceError(at, f"{path} is {len(data)} bytes; a component's files may total 1 MiB")
    del entry["source"]
    try:
        entry["content"] = data.decode("utf-8")
    except UnicodeDecodeError:
        entry["binaryContent"] = base64.b64encode(data).decode()
