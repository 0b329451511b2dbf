"""What a container's shell command does, as far as the emulator can tell without running it.

A container whose command is a shell script (``sh -c SCRIPT``, ``bash -c``, ``/bin/sh -c``; the
script may also come from ``args``) is read statement by statement (separated by ``;``, ``&&``,
``||`` or new lines): ``echo WORDS`` writes a log line, ``exit N`` ends the script with code N,
``false`` fails it (code 1) and ``true``/``:`` do nothing; anything else is taken to succeed. So a
manifest that fails on a real cluster (``sh -c "echo migrating; exit 1"``) fails here too, and
its log says what it printed. Quoting follows the shell's rules (``shlex``); expansions are not
performed.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Any

SHELLS = ("sh", "bash", "ash", "dash", "zsh")
_SEPARATOR = re.compile(r"\s*(;|&&|\|\||\n)\s*")


@dataclass(frozen=True)
class Script:
    lines: tuple[str, ...]
    exit_code: int


def script_of(container: dict[str, Any]) -> str | None:
    """The ``-c`` script of a shell command, if the container runs one."""
    words = [str(w) for w in (container.get("command") or [])] + [str(w) for w in (container.get("args") or [])]
    if len(words) < 3 or words[0].rsplit("/", 1)[-1] not in SHELLS or words[1] != "-c":
        return None
    return words[2]


def _statements(script: str) -> list[tuple[str, str]]:
    """(separator before it, statement) pairs; separators inside quotes are left alone."""
    lexer = shlex.shlex(script, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    statements: list[tuple[str, str]] = []
    before = ";"
    words: list[str] = []
    for token in lexer:
        if set(token) <= set(";&|"):
            if words:
                statements.append((before, shlex.join(words)))
            before, words = token.strip() or ";", []
        else:
            words.append(token)
    if words:
        statements.append((before, shlex.join(words)))
    return statements


def run(container: dict[str, Any]) -> Script | None:
    """What the container's script writes and how it exits; None when it runs no shell script."""
    script = script_of(container)
    if script is None:
        return None
    lines: list[str] = []
    status = 0
    for separator, statement in _statements(script.replace("\n", ";")):
        if (separator == "&&" and status != 0) or (separator == "||" and status == 0):
            continue
        words = shlex.split(statement)
        command = words[0] if words else ""
        if command == "echo":
            lines.append(" ".join(w for w in words[1:] if w != "-e" and w != "-n"))
            status = 0
        elif command == "exit":
            code = words[1] if len(words) > 1 else str(status)
            return Script(tuple(lines), int(code) % 256 if code.isdigit() else 2)
        elif command == "false":
            status = 1
        else:
            status = 0
    return Script(tuple(lines), status)
