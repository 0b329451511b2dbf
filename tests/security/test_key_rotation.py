"""Key rotation finishes: ``python -m threeport_cluster_manager reencrypt`` (and workload-delivery's,
for app secrets and registry passwords) moves every stored credential to the current key, online
and resumably, and says when an old key is unused."""

from __future__ import annotations

import base64
import io
import json
import os
import secrets
import subprocess
import sys

import psycopg
import pytest

from tests.e2e.conftest import ControlPlane


def reencrypt(plane: ControlPlane, keys: str, service: str = "threeport_cluster_manager",
              ) -> subprocess.CompletedProcess[str]:
    processes = {p["name"]: p["url"] for p in json.loads((plane.state_dir / "processes.json").read_text())["processes"]}
    env = {**os.environ,
           "THREEPORT_DATABASE_URL": processes["postgres"], "THREEPORT_REDIS_URL": processes["redis"],
           "THREEPORT_SERVICE_CREDENTIAL": (plane.state_dir / "service-credential").read_text().strip(),
           "THREEPORT_ENCRYPTION_KEYS": keys}
    env.pop("THREEPORT_ENCRYPTION_KEYS_FILE", None)
    return subprocess.run([sys.executable, "-m", service, "reencrypt"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def key_ids(plane: ControlPlane) -> list[str]:
    processes = {p["name"]: p["url"] for p in json.loads((plane.state_dir / "processes.json").read_text())["processes"]}
    with psycopg.connect(processes["postgres"].replace("postgresql+psycopg://", "postgresql://")) as db:
        return [row[0] for row in db.execute("SELECT key_id FROM clusters.cluster_credentials").fetchall()]


def test_reencrypt_moves_every_credential_to_the_current_key_and_names_unused_keys(
    control_plane: ControlPlane,
) -> None:
    old = (control_plane.state_dir / "encryption-keys").read_text().strip()  # "local-1:<key>"
    old_id = old.split(":", 1)[0]
    new = f"rotated-2:{base64.b64encode(secrets.token_bytes(32)).decode()}"
    assert set(key_ids(control_plane)) == {old_id}

    first = reencrypt(control_plane, f"{new},{old}")
    assert first.returncode == 0, first.stderr
    assert "re-encrypted 1 value(s)" in first.stdout
    assert f"key {old_id!r} is no longer used" in first.stdout
    assert set(key_ids(control_plane)) == {"rotated-2"}
    again = reencrypt(control_plane, f"{new},{old}")  # resumable: a second run finds nothing to do
    assert again.returncode == 0 and "re-encrypted 0 value(s)" in again.stdout

    # Back to the key the running services have, so the control plane keeps working.
    back = reencrypt(control_plane, f"{old},{new}")
    assert back.returncode == 0 and "key 'rotated-2' is no longer used" in back.stdout
    assert set(key_ids(control_plane)) == {old_id}
    assert control_plane.tptctl("get", "cluster", "local").code == 0


def delivery_key_ids(plane: ControlPlane) -> list[str]:
    processes = {p["name"]: p["url"] for p in json.loads((plane.state_dir / "processes.json").read_text())["processes"]}
    with psycopg.connect(processes["postgres"].replace("postgresql+psycopg://", "postgresql://")) as db:
        rows = db.execute("SELECT spec->>'value' FROM delivery.secrets UNION ALL "
                          "SELECT spec->>'password' FROM delivery.registry_credentials").fetchall()
    return [row[0].removeprefix("enc:v1:").split(":", 1)[0] for row in rows]


def test_reencrypt_moves_app_secrets_and_registry_passwords_too(control_plane: ControlPlane,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """workload-delivery's sealed fields (app secrets, registry passwords) join the rotation."""
    plane = control_plane
    assert plane.tptctl("secret", "set", "rot", "api-key", "--env", "dev", "--from-literal", "s3cr3t-rot").code == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("pw-rot"))
    added = plane.tptctl("registry-credential", "add", "rot-reg", "--server", "r.example.com", "--username", "u",
                         "--password-stdin")
    assert added.code in (0, 4), added.err  # 4: left by an earlier run on this control plane
    old = (plane.state_dir / "encryption-keys").read_text().strip()
    old_id = old.split(":", 1)[0]
    new = f"rotated-3:{base64.b64encode(secrets.token_bytes(32)).decode()}"
    assert set(delivery_key_ids(plane)) == {old_id}

    first = reencrypt(plane, f"{new},{old}", "threeport_workload_delivery")
    assert first.returncode == 0, first.stderr
    assert "app secrets" in first.stdout and f"key {old_id!r} is no longer used" in first.stdout
    assert set(delivery_key_ids(plane)) == {"rotated-3"}
    assert "re-encrypted 0 value(s)" in reencrypt(plane, f"{new},{old}", "threeport_workload_delivery").stdout

    back = reencrypt(plane, f"{old},{new}", "threeport_workload_delivery")
    assert back.returncode == 0 and set(delivery_key_ids(plane)) == {old_id}
    assert "api-key" in plane.tptctl("secret", "list", "rot", "--env", "dev").out
