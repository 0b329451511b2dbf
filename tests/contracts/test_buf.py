"""buf lint is clean, and buf breaking is wired up and catches a breaking change."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from tests.support import REPO_ROOT, require_tool

BUF = REPO_ROOT / "tools" / "buf" / "node_modules" / ".bin" / "buf"


def buf(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_tool(BUF, "buf (npm @bufbuild/buf)"), *args],
        capture_output=True, text=True, cwd=cwd, check=False,
    )


def test_buf_lint_is_clean() -> None:
    result = buf("lint", "protos")
    assert result.returncode == 0, result.stdout + result.stderr


def test_buf_breaking_accepts_an_unchanged_api(tmp_path: Path) -> None:
    shutil.copytree(REPO_ROOT / "protos", tmp_path / "protos")
    result = buf("breaking", str(tmp_path / "protos"), "--against", str(REPO_ROOT / "protos"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_buf_breaking_rejects_a_removed_field(tmp_path: Path) -> None:
    protos = tmp_path / "protos"
    shutil.copytree(REPO_ROOT / "protos", protos)
    environment = protos / "threeport/registry/v1alpha1/environment.proto"
    text = environment.read_text()
    changed = re.sub(r"  // Deploys and promotions.*?\n  bool require_approval = 5;\n", "", text, flags=re.S)
    assert changed != text, "the test's edit no longer applies; update it"
    environment.write_text(changed)

    result = buf("breaking", str(protos), "--against", str(REPO_ROOT / "protos"))

    assert result.returncode != 0
    assert "require_approval" in result.stdout + result.stderr
