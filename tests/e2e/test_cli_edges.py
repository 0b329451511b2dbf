"""Rough edges a new user ran into, through the installed ``tptctl`` against a running control
plane: output piped into ``head``, CI configured by environment variables only, revoking tokens
by the name given to ``token create``, and a mistyped command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import ControlPlane
from threeport_cli import config

TPTCTL = f"{sys.executable} -m threeport_cli"


def local_context(cp: ControlPlane) -> config.Context:
    return config.resolve(config.load(cp.config_file), "local")


def shell(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=env, timeout=120,
                          check=False)


@pytest.mark.parametrize("command", [
    "get apps -o yaml", "describe app piped", "events", "get apps -o json", "api-resources"])
def test_output_piped_into_head_ends_quietly(control_plane: ControlPlane, tmp_path: Path, command: str) -> None:
    manifest = tmp_path / "app.yaml"
    manifest.write_text("apiVersion: threeport.io/v1alpha1\nkind: Application\nmetadata: {name: piped}\n"
                        "spec: {components: {web: {image: 'registry.example.com/piped:1'}}}\n")
    assert control_plane.tptctl("apply", "-f", str(manifest)).code in (0,)
    env = {**os.environ, "THREEPORT_CONFIG": str(control_plane.config_file)}
    # `head -n 0` leaves before tptctl writes anything, so every write meets a closed pipe.
    result = shell(f"{TPTCTL} {command} | head -n 0; echo \"exit=${{PIPESTATUS[0]}}\" >&2", env)
    assert "Traceback" not in result.stderr and "BrokenPipeError" not in result.stderr, result.stderr
    assert "exit=0" in result.stderr, result.stderr


def test_ci_configures_tptctl_with_environment_variables_only(control_plane: ControlPlane, tmp_path: Path) -> None:
    local = local_context(control_plane)
    created = control_plane.tptctl("token", "create", "ci-env", "-p", "acme", "--role", "deployer")
    assert created.code == 0, created.err
    env = {**os.environ, "THREEPORT_CONFIG": str(tmp_path / "no-such-config.yaml"),
           "THREEPORT_SERVER": local.server, "THREEPORT_TOKEN": created.out.strip(), "THREEPORT_PROJECT": "acme"}
    listed = shell(f"{TPTCTL} get environments -o name", env)
    assert listed.returncode == 0, listed.stderr
    assert not (tmp_path / "no-such-config.yaml").exists()

    missing_ca = shell(f"{TPTCTL} get apps", {**env, "THREEPORT_CA_FILE": str(tmp_path / "ca.pem")})
    assert missing_ca.returncode == 1 and "THREEPORT_CA_FILE" in missing_ca.stderr
    bad_tls = shell(f"{TPTCTL} get apps", {**env, "THREEPORT_TLS": "maybe"})
    assert bad_tls.returncode == 1 and "THREEPORT_TLS" in bad_tls.stderr
    # The token never has to be on a command line, not even to save a context.
    login = shell(f"{TPTCTL} login --context from-env", {**env, "THREEPORT_CONFIG": str(tmp_path / "c.yaml")})
    assert login.returncode == 0, login.stderr
    assert config.resolve(config.load(tmp_path / "c.yaml"), "from-env").token == created.out.strip()


def test_tokens_are_revoked_by_the_service_account_name(control_plane: ControlPlane) -> None:
    cp = control_plane
    first = cp.tptctl("token", "create", "ci-revoke", "-p", "acme", "--role", "viewer")
    second = cp.tptctl("token", "create", "ci-revoke", "-p", "acme", "--role", "viewer", "--token-id", "second")
    third = cp.tptctl("token", "create", "ci-revoke", "-p", "acme", "--role", "viewer", "--token-id", "third")
    assert first.code == second.code == third.code == 0

    listed = cp.tptctl("token", "list", "--principal", "ci-revoke")
    assert listed.out.splitlines()[0].split()[:2] == ["PRINCIPAL", "TOKEN-ID"]
    assert {tuple(line.split()[:2]) for line in listed.out.splitlines()[1:]} == {
        ("ci-revoke", "default"), ("ci-revoke", "second"), ("ci-revoke", "third")}

    one = cp.tptctl("token", "revoke", "ci-revoke", "--token-id", "second")
    assert one.code == 0 and one.out.strip() == "token principals/ci-revoke/tokens/second revoked"
    revoked = {line.split()[1]: line.split()[4] for line in cp.tptctl(
        "token", "list", "--principal", "ci-revoke").out.splitlines()[1:]}
    assert revoked == {"default": "no", "second": "yes", "third": "no"}

    rest = cp.tptctl("token", "revoke", "ci-revoke")
    assert rest.code == 0 and sorted(rest.out.splitlines()) == [
        "token principals/ci-revoke/tokens/default revoked", "token principals/ci-revoke/tokens/third revoked"]
    again = cp.tptctl("token", "revoke", "ci-revoke")
    assert again.code == 3 and "no tokens that are not revoked" in again.err
    server = local_context(cp).server
    refused = shell(f"{TPTCTL} get apps", {**os.environ, "THREEPORT_SERVER": server,
                                           "THREEPORT_TOKEN": third.out.strip(), "THREEPORT_PROJECT": "acme"})
    assert refused.returncode == 6


@pytest.mark.parametrize(("typed", "meant"), [("gte", "get"), ("delpoy", "deploy"), ("evnets", "events"),
                                              ("describ", "describe"), ("tokn", "token")])
def test_an_unknown_command_suggests_the_nearest_one(control_plane: ControlPlane, typed: str, meant: str) -> None:
    outcome = control_plane.tptctl(typed, "apps")
    assert outcome.code == 2
    assert f"unknown command {typed!r}; did you mean {meant!r}?" in outcome.err
