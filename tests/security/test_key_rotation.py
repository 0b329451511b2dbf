"""Key rotation finishes: ``python -m threeport_cluster_manager reencrypt`` moves every stored
credential to the current key, online and resumably, and says when an old key is unused."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys

import psycopg

from tests.e2e.conftest import ControlPlane


def reencrypt(plane: ControlPlane, keys: str) -> subprocess.CompletedProcess[str]:
    processes = {p["name"]: p["url"] for p in json.loads((plane.state_dir / "processes.json").read_text())["processes"]}
    env = {**os.environ,
           "THREEPORT_DATABASE_URL": processes["postgres"], "THREEPORT_REDIS_URL": processes["redis"],
           "THREEPORT_SERVICE_CREDENTIAL": (plane.state_dir / "service-credential").read_text().strip(),
           "THREEPORT_ENCRYPTION_KEYS": keys}
    env.pop("THREEPORT_ENCRYPTION_KEYS_FILE", None)
    return subprocess.run([sys.executable, "-m", "threeport_cluster_manager", "reencrypt"], env=env,
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
