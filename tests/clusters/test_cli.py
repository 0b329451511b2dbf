"""``tptctl cluster attach|create`` against a running cluster-manager.

The gateway is another engineer's; here the command's SDK client is pointed straight at the
service with an operator's forwarded identity, so everything but the session is real.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
from pathlib import Path

import pytest
import yaml

from threeport.sdk import Client
from threeport_cli.commands import clusters as commands
from threeport_cli.errors import report
from threeport_cli.exit_codes import ExitCode

from .conftest import OPERATOR, ClusterManager, Kube
from .helpers import is_true


def tptctl(manager: ClusterManager, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tptctl")
    commands.register(parser.add_subparsers(dest="command"))
    options = parser.parse_args(argv)
    try:
        return int(options.run(options))
    except Exception as error:
        return int(report(error))


@pytest.fixture
def direct(manager: ClusterManager, monkeypatch: pytest.MonkeyPatch) -> None:
    target = f"127.0.0.1:{manager.service.port}"
    monkeypatch.setattr(commands, "context_for", lambda options: None)
    monkeypatch.setattr(commands, "client_for", lambda context: Client(target, metadata=OPERATOR))


def test_flatten_inlines_files_relative_to_the_kubeconfig(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_bytes(b"CA")
    (tmp_path / "token").write_text("secret-token\n")
    text = yaml.safe_dump(
        {
            "clusters": [{"name": "c", "cluster": {"server": "https://x", "certificate-authority": "ca.pem"}}],
            "users": [{"name": "u", "user": {"token-file": str(tmp_path / "token")}}],
        }
    )
    flat = yaml.safe_load(commands.flatten_kubeconfig(text, tmp_path))
    assert flat["clusters"][0]["cluster"] == {
        "server": "https://x",
        "certificate-authority-data": base64.b64encode(b"CA").decode(),
    }
    assert flat["users"][0]["user"] == {"token": "secret-token"}


def test_labels_parse_and_refuse_garbage() -> None:
    assert commands.parse_labels(["a=1,b=2", "c="]) == {"a": "1", "b": "2", "c": ""}
    with pytest.raises(commands.CommandError):
        commands.parse_labels(["novalue"])


async def test_attach_and_create_with_wait(
    manager: ClusterManager, kube: Kube, direct: None, capsys: pytest.CaptureFixture[str]
) -> None:
    info = kube.cluster("cli")
    argv = [
        "cluster",
        "attach",
        "cli-one",
        "--kubeconfig",
        info.kubeconfig_path,
        "--location",
        "Europe:Dublin",
        "-l",
        "tier=gold",
        "--wait",
        "--timeout",
        "60s",
    ]
    assert await asyncio.to_thread(tptctl, manager, argv) == ExitCode.OK
    assert "cluster/cli-one attached" in capsys.readouterr().out
    attached = await manager.client.cluster.get_cluster(name="clusters/cli-one")
    assert is_true(attached, "Ready") and attached.labels["tier"] == "gold" and attached.status.region == "eu-west-1"

    argv = ["cluster", "create", "cli-sim", "--provider", "sim", "--wait", "--timeout", "60s"]
    assert await asyncio.to_thread(tptctl, manager, argv) == ExitCode.OK
    created = await manager.client.cluster.get_cluster(name="clusters/cli-sim")
    assert is_true(created, "Ready")
    kube.created.append(created.status.infrastructure.removeprefix("sim/"))

    argv = ["cluster", "create", "cli-eks", "--provider", "eks"]
    assert await asyncio.to_thread(tptctl, manager, argv) == ExitCode.CONFLICT
    assert "THREEPORT_BACKEND_INFRA" in capsys.readouterr().err
    argv = ["cluster", "attach", "cli-missing", "--kubeconfig", "/nonexistent/kubeconfig"]
    assert await asyncio.to_thread(tptctl, manager, argv) == ExitCode.INVALID_INPUT
