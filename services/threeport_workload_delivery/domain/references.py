"""Output references ``${dependencies.NAME.OUTPUT}`` in env values and config files.

A small copy of the registry's ``threeport_registry.domain.references`` (services may not import
each other); the two must agree: ``$${`` escapes a literal ``${``, nothing else with ``$`` is
special. The registry has already refused malformed references, so here they are left as written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class OutputReference:
    dependency: str
    output: str


def _tokens(text: str) -> Iterator[tuple[str, OutputReference | None]]:
    """Literal text pieces and references, in order."""
    position = 0
    while (start := text.find("$", position)) != -1:
        if text.startswith("$${", start):
            yield text[position:start] + "${", None
            position = start + 3
            continue
        close = text.find("}", start + 2) if text.startswith("${", start) else -1
        parts = text[start + 2 : close].split(".") if close != -1 else []
        if len(parts) != 3 or parts[0] != "dependencies" or not all(parts):
            yield text[position : start + 1], None
            position = start + 1
            continue
        yield text[position:start], OutputReference(parts[1], parts[2])
        position = close + 1
    yield text[position:], None


def references(text: str) -> list[OutputReference]:
    return [ref for _, ref in _tokens(text) if ref is not None]


def substitute(text: str, resolve: Callable[[OutputReference], str]) -> str:
    """Replaces every reference with ``resolve(reference)`` and unescapes ``$${``."""
    return "".join(literal + (resolve(ref) if ref is not None else "") for literal, ref in _tokens(text))
