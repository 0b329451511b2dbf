"""The generated code in gen/ matches protos/, and the generator notices when it does not."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support import REPO_ROOT

GENERATE = REPO_ROOT / "tools" / "codegen" / "generate.py"


def run_generate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(GENERATE), *args], capture_output=True, text=True, cwd=REPO_ROOT, check=False
    )


def test_committed_gen_is_fresh() -> None:
    result = run_generate("--check")
    assert result.returncode == 0, f"gen/ is stale:\n{result.stdout}{result.stderr}"


def test_a_proto_change_without_regeneration_is_detected(tmp_path: Path) -> None:
    protos = tmp_path / "protos"
    shutil.copytree(REPO_ROOT / "protos", protos)
    application = protos / "threeport/registry/v1alpha1/application.proto"
    text = application.read_text()
    changed = text.replace(
        "  // A short description for people.\n  string description = 4;\n",
        "  // A short description for people.\n  string description = 4;\n"
        "  // A field added without regenerating.\n  string added_field = 5;\n",
    )
    assert changed != text, "the test's edit no longer applies; update it"
    application.write_text(changed)

    result = run_generate("--check", "--protos", str(protos))

    assert result.returncode == 1
    assert "registry/v1alpha1/application_pb2.py" in result.stdout
    assert "gen/ is stale" in result.stderr


def test_generation_is_deterministic(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    assert run_generate("--out", str(first)).returncode == 0
    assert run_generate("--out", str(second)).returncode == 0
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files, "nothing was generated"
    for relative in files:
        assert (first / relative).read_bytes() == (second / relative).read_bytes(), relative


def test_generated_modules_import() -> None:
    for module in sorted((REPO_ROOT / "gen" / "threeport").rglob("*_pb2*.py")):
        dotted = ".".join(module.relative_to(REPO_ROOT / "gen").with_suffix("").parts)
        __import__(dotted)
    assert re.match(r"threeport\.", dotted)
