"""Sanity checks for git branch and tag names, commits, and branch/tag globs (after git check-ref-format)."""

from __future__ import annotations

import re

MAX_REF_LENGTH = 255
_COMMIT = re.compile(r"[0-9a-fA-F]{7,40}")
_FORBIDDEN = set(" ~^:\\") | {chr(c) for c in range(32)} | {"\x7f"}
_GLOB_CHARS = set("*?[")


def check_ref(text: str, what: str, *, glob: bool = False) -> str | None:
    """A branch or tag name (or, with ``glob``, a pattern over them)."""
    rule = (
        f"a git {what} name: no spaces, control characters, '~', '^', ':', '\\', '..' or '@{{', "
        "not starting or ending with '/' or '.', not ending with '.lock', at most 255 characters"
    )
    bad = _FORBIDDEN if glob else _FORBIDDEN | _GLOB_CHARS
    if (
        not text
        or len(text) > MAX_REF_LENGTH
        or any(c in bad for c in text)
        or ".." in text
        or "@{" in text
        or "//" in text
        or text.startswith(("/", "."))
        or text.endswith(("/", ".", ".lock"))
    ):
        return f"{text!r} is not valid: use {rule}" + (" (globs may use *, ? and [...])" if glob else "")
    return None


def check_commit(text: str) -> str | None:
    if not _COMMIT.fullmatch(text):
        return f"{text!r} is not a commit: use 7 to 40 hex digits"
    return None
