"""Output references in env values and config file contents: ``${dependencies.NAME.OUTPUT}``.

Syntax:

- ``${dependencies.NAME.OUTPUT}`` is replaced by the output ``OUTPUT`` of dependency ``NAME``.
- ``$${`` is an escape for a literal ``${`` (so ``$${HOME}`` becomes ``${HOME}``, e.g. for a shell
  script in a config file). No other ``$`` sequence is special: ``$HOME``, ``$(VAR)`` and ``$$``
  stay as written.
- Any other ``${...}`` is an error (unknown namespace, wrong number of parts, or no closing ``}``),
  so that a typo never silently reaches a container.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

NAMESPACE = "dependencies"
SYNTAX = "${dependencies.NAME.OUTPUT} (write $${ for a literal ${)"


@dataclass(frozen=True)
class OutputReference:
    """One well-formed reference: which dependency, which output, where in the text."""

    dependency: str
    output: str
    start: int
    end: int


@dataclass(frozen=True)
class MalformedReference:
    """A ``${`` that does not start a valid reference, and why."""

    text: str
    start: int
    reason: str


@dataclass(frozen=True)
class ScanResult:
    references: list[OutputReference]
    malformed: list[MalformedReference]


def scan(text: str) -> ScanResult:
    """Finds every reference and every malformed ``${...}`` in the text."""
    references: list[OutputReference] = []
    malformed: list[MalformedReference] = []
    position = 0
    while (start := text.find("$", position)) != -1:
        if text.startswith("$${", start):
            position = start + 3
            continue
        if not text.startswith("${", start):
            position = start + 1
            continue
        close = text.find("}", start + 2)
        if close == -1:
            malformed.append(MalformedReference(text[start:], start, f"has no closing '}}'; use {SYNTAX}"))
            break
        body = text[start + 2 : close]
        parts = body.split(".")
        if parts[0] != NAMESPACE:
            reason = f"uses the unknown namespace {parts[0]!r}; only {SYNTAX} is supported"
            malformed.append(MalformedReference(text[start : close + 1], start, reason))
        elif len(parts) != 3 or not all(parts):
            malformed.append(
                MalformedReference(text[start : close + 1], start, f"is not of the form {SYNTAX}")
            )
        else:
            references.append(OutputReference(parts[1], parts[2], start, close + 1))
        position = close + 1
    return ScanResult(references, malformed)


def contains_reference_syntax(text: str) -> bool:
    """Whether the text has any ``${`` that is not the ``$${`` escape."""
    result = scan(text)
    return bool(result.references or result.malformed)


def substitute(text: str, resolve: Callable[[OutputReference], str]) -> str:
    """Replaces every reference with ``resolve(reference)`` and unescapes ``$${``.

    The text must have been validated (no malformed references)."""
    out: list[str] = []
    position = 0
    while (start := text.find("$", position)) != -1:
        if text.startswith("$${", start):
            out.append(text[position:start] + "${")
            position = start + 3
            continue
        if not text.startswith("${", start):
            out.append(text[position : start + 1])
            position = start + 1
            continue
        close = text.index("}", start + 2)
        _, dependency, output = text[start + 2 : close].split(".")
        out.append(text[position:start] + resolve(OutputReference(dependency, output, start, close + 1)))
        position = close + 1
    out.append(text[position:])
    return "".join(out)


def escape(text: str) -> str:
    """Makes text literal: every ``${`` becomes ``$${``."""
    return text.replace("${", "$${")
