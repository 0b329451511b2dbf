"""The local control plane's PostgreSQL and Redis require the password kept in the state
directory; nothing shows it (status, up's output), and the files holding it are the owner's only."""

from __future__ import annotations

import json
import stat
from urllib.parse import urlsplit

import psycopg
import pytest
import redis

from tests.e2e.conftest import ControlPlane


def test_the_embedded_datastores_refuse_callers_without_the_password(control_plane: ControlPlane) -> None:
    state = control_plane.state_dir
    password_file = state / "datastore-password"
    for secret_file in (password_file, state / "processes.json"):
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600, secret_file
    password = password_file.read_text().strip()
    ports = {p["name"]: p["port"] for p in json.loads((state / "processes.json").read_text())["processes"]}

    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(f"postgresql://postgres@127.0.0.1:{ports['postgres']}/postgres", connect_timeout=5)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(f"postgresql://postgres:guess@127.0.0.1:{ports['postgres']}/postgres", connect_timeout=5)
    with psycopg.connect(f"postgresql://postgres:{password}@127.0.0.1:{ports['postgres']}/postgres",
                         connect_timeout=5) as db:
        assert db.execute("SELECT 1").fetchone() == (1,)

    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=ports["redis"], socket_timeout=5).ping()
    assert redis.Redis(port=ports["redis"], password=password, socket_timeout=5).ping()

    shown = control_plane.tptctl("status", "--state-dir", str(state))
    assert shown.code == 0 and password not in shown.out + shown.err
    urls = [p["url"] for p in json.loads((state / "processes.json").read_text())["processes"] if p["name"] == "redis"]
    assert urlsplit(urls[0]).password == password  # the services get it; people do not see it
