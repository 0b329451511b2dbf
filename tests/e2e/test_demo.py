"""``tools/demo`` run twice in a row, as a user would, prints no ``error:`` line either time.

The demo's first step installs packages (tools/setup-dev); they are installed already here, so a
copy of the script runs with that step replaced by nothing, against this checkout's `.venv` and
examples, in its own state directory and config file."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import REPO_ROOT


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    root = tmp_path / "checkout"
    (root / "tools").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "tools" / "demo", root / "tools" / "demo")
    setup = root / "tools" / "setup-dev"
    setup.write_text("#!/bin/sh\n# The packages are installed already.\n")
    setup.chmod(0o755)
    (root / ".venv").symlink_to((REPO_ROOT / ".venv").resolve())
    (root / "deploy").symlink_to(REPO_ROOT / "deploy")
    env = {**os.environ, "THREEPORT_DEMO_STATE": str(tmp_path / "state"),
           "THREEPORT_CONFIG": str(tmp_path / "config.yaml")}
    try:
        yield root / "tools" / "demo", env
    finally:
        subprocess.run([root / "tools" / "demo", "--down"], env=env, capture_output=True, timeout=120, check=False)


@pytest.mark.timeout(600)
def test_the_demo_runs_clean_twice_in_a_row(demo: tuple[Path, dict[str, str]]) -> None:
    script, env = demo
    for run in ("first", "second"):
        result = subprocess.run([script], env=env, capture_output=True, text=True, timeout=280, check=False)
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"{run} run failed:\n{output}"
        errors = [line for line in output.splitlines() if line.lstrip().lower().startswith("error")]
        assert not errors, f"{run} run printed errors:\n{output}"
