"""Helpers shared by every test folder: where the repo is, and how to require an external tool."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def require_tool(path: Path | str | None, what: str) -> str:
    """Returns the tool's path, or skips the test with a reason; in CI a missing tool fails."""
    if path and Path(path).exists():
        return str(path)
    message = f"{what} is not installed (run tools/setup-dev)"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must have it")
    pytest.skip(message)
