"""PostgreSQL down: callers get UNAVAILABLE naming the service, with a retry hint (never
INTERNAL), ``tptctl status`` says which services cannot reach their database, and everything
works again once it is back."""

from __future__ import annotations

import json
import signal

import pytest

from tests.e2e.conftest import ControlPlane, eventually
from threeport.sdk import UnavailableError
from threeport_cli.local import controlplane, processes
from threeport_runtime.rpc import datastore_health


def test_the_cli_knows_the_runtime_health_entries() -> None:
    assert set(controlplane.DATASTORE_HEALTH) == {datastore_health.DATABASE_HEALTH, datastore_health.REDIS_HEALTH}


def test_postgres_down_is_unavailable_with_a_retry_hint_and_status_names_the_services(
    control_plane: ControlPlane,
) -> None:
    cp = control_plane
    record = json.loads((cp.state_dir / "processes.json").read_text())
    (postgres,) = [p for p in record["processes"] if p["name"] == "postgres"]
    assert processes.stop(postgres["pid"], signum=signal.SIGINT)
    try:
        with cp.client() as client, pytest.raises(UnavailableError) as raised:
            client.application.list_applications_page(parent="projects/acme", timeout=20)
        assert "cannot reach its database (PostgreSQL)" in raised.value.message
        assert raised.value.retry_delay is not None and raised.value.retry_delay > 0
        got = cp.tptctl("get", "apps")
        assert got.code == 1 and "internal error" not in got.err and "cannot reach its database" in got.err

        # Every service of the control plane has a database: the gateway and the five others.
        services = {p["name"] for p in record["processes"]} - {"postgres", "redis", "kubesim"}
        assert len(services) == 6, services

        def status_names_them() -> bool:
            shown = cp.tptctl("status", "--state-dir", str(cp.state_dir))
            broken = [line for line in shown.out.splitlines() if "cannot reach its database (PostgreSQL)" in line]
            return shown.code == 1 and {line.split()[0].rstrip(":") for line in broken} == services

        eventually(status_names_them, "tptctl status to name the services without their database")
    finally:
        restarted = cp.tptctl("up", "--state-dir", str(cp.state_dir))
        assert restarted.code == 0, restarted.err
    eventually(lambda: cp.tptctl("status", "--state-dir", str(cp.state_dir)).code == 0, "everything healthy again")
    assert cp.tptctl("get", "apps").code == 0
