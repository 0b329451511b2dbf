"""The import rules of DESIGN §8 hold (``.importlinter``), and the contract really catches breaks.

The first test runs the contract over the real tree; the others build a throwaway tree with one
forbidden import each and check that the contract reports exactly that rule as broken.
"""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ".importlinter"
SOURCE_DIRS = ("gen", "services", "cli", "tools")
LAYERS = "Services never import each other"
MODEL = "threeport_model imports only"
DOMAIN = "domain/ packages are pure rules"
CLI = "The CLI talks to the control plane"
EMULATOR = "Production code never imports the Kubernetes emulator"
SHARED = {"threeport_model", "threeport_runtime"}


def _lint(config: Path, python_path: list[Path]) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in python_path)}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports; "
            f"sys.exit(lint_imports(config_filename={str(config)!r}, no_cache=True, no_logo=True))",
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _contracts() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(CONFIG)
    return parser


def _listed(section: str, option: str) -> set[str]:
    return set(_contracts()[section][option].replace("|", "\n").split())


def test_the_import_contract_is_kept() -> None:
    result = _lint(CONFIG, [ROOT / d for d in SOURCE_DIRS] + [ROOT])

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_every_service_package_is_under_the_contract() -> None:
    services = {
        path.name
        for path in (ROOT / "services").iterdir()
        if (path / "__init__.py").exists() and path.name not in SHARED
    }

    assert services <= _listed("importlinter:contract:layers", "layers"), "add the new service to the layers"
    assert services <= _listed("importlinter:contract:emulator", "source_modules")
    assert services | SHARED <= _listed("importlinter", "root_packages")


def _tree(tmp_path: Path, violation: tuple[str, str] | None) -> Path:
    """Empty packages named like ours (with a domain/ and a store), plus one file with ``violation``."""
    packages = _listed("importlinter", "root_packages")
    files = {f"{package}/__init__.py": "" for package in packages}
    files |= {
        "threeport/sdk/__init__.py": "",
        "threeport_registry/domain/__init__.py": "from threeport_model import names\n",
        "threeport_registry/store.py": "import sqlalchemy\n",
        "threeport_model/names.py": (
            "import re\nfrom urllib.parse import urlsplit\nfrom google.protobuf import struct_pb2\n"
        ),
        "threeport_cli/main.py": "import grpc\nfrom threeport import sdk\nfrom threeport_model import names\n",
    }
    if violation is not None:
        path, line = violation
        files[path] = files.get(path, "") + line + "\n"
    for relative, text in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    return tmp_path


def test_a_tree_that_follows_the_rules_keeps_every_contract(tmp_path: Path) -> None:
    result = _lint(CONFIG, [_tree(tmp_path, None), ROOT])

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("path", "line", "broken"),
    [
        ("threeport_registry/api.py", "import threeport_cluster_manager", LAYERS),
        ("threeport_runtime/db.py", "from threeport_workload_delivery import service", LAYERS),
        ("threeport_model/names.py", "import threeport_runtime", LAYERS),
        ("threeport_model/names.py", "import socket  # a comment does not hide it", MODEL),
        ("threeport_model/names.py", "from urllib.request import urlopen", MODEL),
        ("threeport_model/names.py", "import yaml", MODEL),
        ("threeport_model/names.py", "from threeport.sdk import Client", MODEL),
        ("threeport_registry/domain/rules.py", "import sqlalchemy", DOMAIN),
        ("threeport_registry/domain/rules.py", "import subprocess", DOMAIN),
        ("threeport_registry/domain/rules.py", "from threeport_registry import store", DOMAIN),
        ("threeport_registry/domain/rules.py", "import threeport_runtime", DOMAIN),
        ("threeport_cli/main.py", "from threeport_runtime import errors", CLI),
        ("threeport_cli/main.py", "import threeport_registry", CLI),
        ("threeport_cluster_manager/drivers.py", "import threeport_kubesim", EMULATOR),
    ],
)
def test_the_contract_reports_a_forbidden_import(tmp_path: Path, path: str, line: str, broken: str) -> None:
    result = _lint(CONFIG, [_tree(tmp_path, (path, line)), ROOT])

    assert result.returncode == 1, result.stdout + result.stderr
    report = result.stdout.split("Broken contracts", 1)[-1]
    assert broken in report, result.stdout
    assert path.removesuffix(".py").replace("/", ".") in report, result.stdout
