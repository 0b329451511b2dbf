"""Output references in env values and config file contents: ``${dependencies.NAME.OUTPUT}``.

Syntax:

- ``${dependencies.NAME.OUTPUT}`` is replaced by the output ``OUTPUT`` of dependency ``NAME``.
- ``$${`` is an escape for a literal ``${`` (so ``$${HOME}`` becomes ``${HOME}``, e.g. for a shell
  script in a config file). No other ``$`` sequence is special: ``$HOME``, ``$(VAR)`` and ``$$``
  stay as written.
- Any other ``${...}`` is an error (unknown namespace, wrong number of parts, or no closing ``}``),
  so that a typo never silently reaches a container.

The registry refuses malformed references when a spec is written (``scan``); workload-delivery
substitutes outputs when it renders (``substitute``). Both read the text with the one tokenizer
below, so they cannot disagree about what is a reference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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

    def __str__(self) -> str:
        return reference_text(self.dependency, self.output)


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


Token = str | OutputReference | MalformedReference


def _tokens(text: str) -> Iterator[Token]:
    """The text as literal pieces (escapes already undone), references and malformed ``${...}``."""
    position = 0
    while (start := text.find("$", position)) != -1:
        if text.startswith("$${", start):
            yield text[position:start] + "${"
            position = start + 3
            continue
        if not text.startswith("${", start):
            yield text[position : start + 1]
            position = start + 1
            continue
        yield text[position:start]
        close = text.find("}", start + 2)
        if close == -1:
            yield MalformedReference(text[start:], start, f"has no closing '}}'; use {SYNTAX}")
            return
        body = text[start + 2 : close]
        parts = body.split(".")
        if parts[0] != NAMESPACE:
            reason = f"uses the unknown namespace {parts[0]!r}; only {SYNTAX} is supported"
            yield MalformedReference(text[start : close + 1], start, reason)
        elif len(parts) != 3 or not all(parts):
            yield MalformedReference(text[start : close + 1], start, f"is not of the form {SYNTAX}")
        else:
            yield OutputReference(parts[1], parts[2], start, close + 1)
        position = close + 1
    yield text[position:]


def reference_text(dependency: str, output: str) -> str:
    """How a reference to ``output`` of ``dependency`` is written: ``${dependencies.NAME.OUTPUT}``."""
    return f"${{{NAMESPACE}.{dependency}.{output}}}"


def scan(text: str) -> ScanResult:
    """Finds every reference and every malformed ``${...}`` in the text."""
    tokens = list(_tokens(text))
    return ScanResult(
        [token for token in tokens if isinstance(token, OutputReference)],
        [token for token in tokens if isinstance(token, MalformedReference)],
    )


def contains_reference_syntax(text: str) -> bool:
    """Whether the text has any ``${`` that is not the ``$${`` escape."""
    result = scan(text)
    return bool(result.references or result.malformed)


def substitute(text: str, resolve: Callable[[OutputReference], str]) -> str:
    """Replaces every reference with ``resolve(reference)`` and unescapes ``$${``.

    Malformed references stay as written (the registry refuses them before they get here)."""
    out: list[str] = []
    for token in _tokens(text):
        if isinstance(token, OutputReference):
            out.append(resolve(token))
        elif isinstance(token, MalformedReference):
            out.append(token.text)
        else:
            out.append(token)
    return "".join(out)


def escape(text: str) -> str:
    """Makes text literal: every ``${`` becomes ``$${``."""
    return text.replace("${", "$${")
