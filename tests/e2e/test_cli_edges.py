"""Rough edges a new user ran into, through the installed ``tptctl`` against a running control
plane: output piped into ``head``, CI configured by environment variables only, revoking tokens
by the name given to ``token create``, a mistyped command, and ``events``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

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


def test_events_name_their_object_filter_print_json_and_follow(control_plane: ControlPlane, tmp_path: Path) -> None:
    cp = control_plane
    for name in ("evented-a", "evented-b"):
        manifest = tmp_path / f"{name}.yaml"
        manifest.write_text(f"apiVersion: threeport.io/v1alpha1\nkind: Application\nmetadata: {{name: {name}}}\n"
                            f"spec: {{components: {{web: {{image: 'registry.example.com/{name}:1'}}}}}}\n")
        assert cp.tptctl("apply", "-f", str(manifest), "--wait").code == 0  # Accepted is recorded by then

    table = cp.tptctl("events")
    assert table.code == 0, table.err
    lines = table.out.splitlines()
    assert lines[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert any("application/evented-a" in line and "Accepted" in line for line in lines[1:])

    only = cp.tptctl("events", "--for", "app/evented-b")
    assert only.code == 0 and "application/evented-b" in only.out and "evented-a" not in only.out
    assert cp.tptctl("events", "app", "evented-b").out == only.out
    as_json = json.loads(cp.tptctl("events", "--for", "application/evented-a", "-o", "json").out)
    assert as_json and {e["resource"] for e in as_json} == {"projects/acme/applications/evented-a"}
    as_yaml = list(yaml.safe_load_all(cp.tptctl("events", "-o", "yaml").out))
    assert any(e["resource"] == "projects/acme/applications/evented-b" for e in as_yaml)
    assert cp.tptctl("events", "--for", "evented-a").code == 2

    env = {**os.environ, "THREEPORT_CONFIG": str(cp.config_file)}
    follower = subprocess.Popen([sys.executable, "-m", "threeport_cli", "events", "-w"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert follower.stdout is not None
        header = follower.stdout.readline()
        assert header.split()[:2] == ["LAST", "SEEN"]
        before = [follower.stdout.readline() for _ in range(len(lines) - 1)]
        assert all(line.strip() for line in before)
        manifest = tmp_path / "evented-c.yaml"
        manifest.write_text("apiVersion: threeport.io/v1alpha1\nkind: Application\nmetadata: {name: evented-c}\n"
                            "spec: {components: {web: {image: 'registry.example.com/evented-c:1'}}}\n")
        assert cp.tptctl("apply", "-f", str(manifest)).code == 0
        while True:  # bounded by the test's timeout; a new line about the new object must come
            line = follower.stdout.readline()
            assert line, follower.stderr.read() if follower.stderr else "the follower exited"
            if "application/evented-c" in line:
                break
    finally:
        follower.kill()
        follower.communicate(timeout=10)


@pytest.mark.parametrize(("typed", "meant"), [("aps", "applications"), ("deploymnt", "deployments"),
                                              ("relases", "releases")])
def test_an_unknown_kind_suggests_the_nearest_one(control_plane: ControlPlane, typed: str, meant: str) -> None:
    outcome = control_plane.tptctl("get", typed)
    assert outcome.code == 2
    assert f"unknown resource type {typed!r}; did you mean {meant!r}?" in outcome.err
