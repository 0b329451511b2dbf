"""Every kubeconfig the emulator writes works with kubectl as written (issue 10 item 11).

kubectl sends no credentials over plain http, so a kubeconfig with an http server and a bearer
token is refused by the emulator ("the server has asked for the client to provide credentials").
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
pytestmark = pytest.mark.skipif(not os.path.exists(KUBECTL), reason="kubectl is not installed")


def _kubectl_get_ns(kubeconfig: Path, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KUBECTL, "--kubeconfig", str(kubeconfig), "get", "ns", "-o", "name"],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, HOME=str(home)),
    )


def _clusters_cli(control_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "threeport_kubesim", "clusters", "--control", control_url, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_kubeconfigs_written_by_serve_and_by_the_control_api_work_with_kubectl(tmp_path: Path) -> None:
    kubeconfigs = tmp_path / "kubeconfigs"
    # Exactly the command from the issue: no --tls flag.
    command = [sys.executable, "-m", "threeport_kubesim", "serve", "--port", "0", "--cluster", "alpha"]
    process = subprocess.Popen([*command, "--kubeconfig-dir", str(kubeconfigs)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        started = json.loads(process.stdout.readline())
        created = _clusters_cli(started["control_url"], "create", "beta")
        assert created.returncode == 0, created.stderr
        plain = _clusters_cli(started["control_url"], "create", "gamma", "--no-tls")
        assert plain.returncode == 0, plain.stderr
        assert json.loads(plain.stdout)["kubeconfig_path"] == ""

        written = sorted(kubeconfigs.glob("*.kubeconfig"))
        assert [path.name for path in written] == ["alpha.kubeconfig", "beta.kubeconfig"]
        for path in written:
            result = _kubectl_get_ns(path, tmp_path)
            assert result.returncode == 0, f"kubectl with {path.name} failed: {result.stderr}"
            assert "namespace/kube-system" in result.stdout.split()
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0
