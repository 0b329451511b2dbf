"""The local control plane of the end-to-end suite, started with ``tptctl up`` like a user would.

Tests drive it through ``tptctl`` (run in-process through its ``main`` for speed; the same
argument parsing, client and exit codes as the installed command) and through the SDK.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from threeport.sdk import Client
from threeport_cli import config
from threeport_cli.main import main


@dataclass
class Outcome:
    code: int
    out: str
    err: str


@dataclass
class ControlPlane:
    state_dir: Path
    config_file: Path
    project: str = "acme"

    def tptctl(self, *args: str, context: str = "") -> Outcome:
        out, err = io.StringIO(), io.StringIO()
        previous = os.environ.get("THREEPORT_CONFIG")
        os.environ["THREEPORT_CONFIG"] = str(self.config_file)
        argv = [*args, *(["--context", context] if context else [])]
        try:
            with redirect_stdout(out), redirect_stderr(err):
                try:
                    code = main(argv)
                except SystemExit as exit_:  # argparse usage errors
                    code = int(exit_.code or 0)
        finally:
            if previous is None:
                os.environ.pop("THREEPORT_CONFIG", None)
            else:
                os.environ["THREEPORT_CONFIG"] = previous
        return Outcome(code, out.getvalue(), err.getvalue())

    def client(self, context: str = "local") -> Client:
        found = config.resolve(config.load(self.config_file), context)
        return Client(found.server, token=found.token)


def eventually(check: Callable[[], Any], what: str, within: float = 90.0) -> Any:
    """The first truthy answer of ``check``, asked every 0.3 s; fails after ``within`` seconds.
    For what the control plane converges to after a command returns (a cluster's claims list,
    a release reaching the cluster)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def namespace_of(control_plane: ControlPlane, deployment: str, project: str = "acme") -> str:
    """Where a deployment runs, as its status says (a name that could be read as other names
    carries a hash suffix, so tests do not spell namespaces out)."""
    with control_plane.client() as client:
        found = client.deployment.get_deployment(name=f"projects/{project}/deployments/{deployment}")
    return str(found.status.namespace)


def run_tptctl(config_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "THREEPORT_CONFIG": str(config_file)}
    return subprocess.run([sys.executable, "-m", "threeport_cli", *args], capture_output=True, text=True,
                          timeout=300, check=False, env=env)


def start_control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """``tptctl up --with-sim-cluster`` in a throwaway state directory, project ``acme`` as the
    default; ``tptctl down`` at the end. The ``control_plane`` fixture (tests/conftest.py) shares
    one between the e2e and security suites; the reliability suite starts its own to break."""
    root = tmp_path_factory.mktemp("control-plane")
    plane = ControlPlane(root / "state", root / "config.yaml")
    started = run_tptctl(plane.config_file, "up", "--state-dir", str(plane.state_dir), "--with-sim-cluster")
    try:
        if started.returncode != 0:
            logs = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in (plane.state_dir / "logs").glob("*.log"))
            pytest.fail(f"tptctl up failed:\n{started.stderr}\n{logs}")
        assert plane.tptctl("project", "create", plane.project).code == 0
        assert plane.tptctl("config", "set-context", "-p", plane.project).code == 0
        yield plane
    finally:
        # Also after a failed ``up``: what it did start would outlive the test run otherwise.
        run_tptctl(plane.config_file, "down", "--state-dir", str(plane.state_dir))
