"""``tptctl up``/``status``/``down`` from a clean state directory, through the real command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from threeport_cli.local.controlplane import SERVICE_PACKAGES, installed_services


@pytest.fixture(scope="module", autouse=True)
def private_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Contexts `up` saves must not land in the real ~/.config of whoever runs the tests, nor in a
    folder of the system's temporary one that nothing removes."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("THREEPORT_CONFIG", str(tmp_path_factory.mktemp("tptctl-config") / "config.yaml"))
        yield


def tptctl(*args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **extra_env}
    return subprocess.run(
        [sys.executable, "-m", "threeport_cli", *args],
        capture_output=True, text=True, timeout=180, check=False, env=env,
    )


def expected_processes() -> set[str]:
    return {"postgres", "redis"} | {SERVICE_PACKAGES[p][0] for p in installed_services()}


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "state"
    yield folder
    tptctl("down", "--state-dir", str(folder))


def urls(output: str) -> dict[str, str]:
    """What `up` prints: each process and its URL (datastore passwords shown as ***)."""
    return dict(line.split("\t", 1) for line in output.splitlines() if "\t" in line)


def stored_urls(state_dir: Path) -> dict[str, str]:
    """The URLs the services get, passwords included."""
    record = json.loads((state_dir / "processes.json").read_text())
    return {p["name"]: p["url"] for p in record["processes"]}


def pids(state_dir: Path) -> dict[str, int]:
    record = json.loads((state_dir / "processes.json").read_text())
    return {p["name"]: p["pid"] for p in record["processes"]}


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan may wait unreaped, which is as good as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


# Starts every control-plane service twice over (up, up again); with the addon-manager that is six
# processes, each importing the stack on a shared 2-core machine, so more than the default 120 s.
@pytest.mark.timeout(300)
def test_up_status_down_from_a_clean_state_directory(state_dir: Path) -> None:
    started = tptctl("up", "--state-dir", str(state_dir))
    assert started.returncode == 0, started.stderr
    assert set(urls(started.stdout)) == expected_processes()
    assert "***@" in urls(started.stdout)["postgres"]
    found = stored_urls(state_dir)

    with psycopg.connect(found["postgres"].replace("postgresql+psycopg", "postgresql")) as db:
        assert db.execute("SELECT 1").fetchone() == (1,)
    assert redis.Redis.from_url(found["redis"]).ping()
    assert (state_dir / "logs" / "postgres.log").exists()
    assert oct(state_dir.stat().st_mode & 0o777) == "0o700"

    status = tptctl("status", "--state-dir", str(state_dir))
    assert status.returncode == 0, status.stdout + status.stderr
    assert status.stdout.count("healthy") == len(expected_processes())

    first = pids(state_dir)
    again = tptctl("up", "--state-dir", str(state_dir))
    assert again.returncode == 0 and "already running" in again.stderr
    assert pids(state_dir) == first, "a second up must keep what runs"

    stopped = tptctl("down", "--state-dir", str(state_dir))
    assert stopped.returncode == 0
    assert set(stopped.stdout.removeprefix("stopped: ").strip().split(", ")) == expected_processes()
    assert not any(running(pid) for pid in first.values())
    assert tptctl("status", "--state-dir", str(state_dir)).returncode == 1


def test_up_restarts_a_datastore_that_died_on_the_same_port_with_its_data(state_dir: Path) -> None:
    started = tptctl("up", "--state-dir", str(state_dir))
    assert started.returncode == 0, started.stderr
    found = stored_urls(state_dir)
    redis.Redis.from_url(found["redis"]).xadd("kept", {"k": "v"})
    os.kill(pids(state_dir)["redis"], signal.SIGKILL)
    assert tptctl("status", "--state-dir", str(state_dir)).returncode == 1

    restarted = tptctl("up", "--state-dir", str(state_dir))

    assert restarted.returncode == 0, restarted.stderr
    assert stored_urls(state_dir)["redis"] == found["redis"]
    assert redis.Redis.from_url(found["redis"]).xlen("kept") == 1


def test_a_service_that_exits_at_start_is_named_with_the_cause_from_its_log(state_dir: Path) -> None:
    result = tptctl("up", "--state-dir", str(state_dir), THREEPORT_CLUSTER_PROBE_INTERVAL_SECONDS="soon")

    assert result.returncode == 1
    assert "cluster-manager exited at start" in result.stderr
    assert "last lines of the log:" in result.stderr
    assert ("configuration error: THREEPORT_CLUSTER_PROBE_INTERVAL_SECONDS must be a number of seconds, got 'soon'"
            in result.stderr)
    assert "Traceback" not in result.stderr


def test_up_with_an_unreachable_database_url_fails_clearly(state_dir: Path) -> None:
    result = tptctl("up", "--state-dir", str(state_dir), "--database-url", "postgresql://nobody@127.0.0.1:1/x")
    assert result.returncode == 1
    assert "cannot connect to --database-url" in result.stderr
    assert "Traceback" not in result.stderr


def local_server() -> str:
    import yaml

    loaded = yaml.safe_load(Path(os.environ["THREEPORT_CONFIG"]).read_text())
    return str(next(c["server"] for c in loaded["contexts"] if c["name"] == "local"))


@pytest.mark.timeout(300)
def test_up_port_puts_the_gateway_on_that_port_and_keeps_it(state_dir: Path) -> None:
    import socket

    from threeport_cli.local.processes import free_port

    port = free_port()
    started = tptctl("up", "--state-dir", str(state_dir), "--port", str(port))
    assert started.returncode == 0, started.stderr
    assert urls(started.stdout)["api-gateway"] == f"127.0.0.1:{port}"
    assert local_server() == f"127.0.0.1:{port}"

    assert tptctl("down", "--state-dir", str(state_dir)).returncode == 0
    again = tptctl("up", "--state-dir", str(state_dir))  # no --port: the one given before is kept
    assert again.returncode == 0, again.stderr
    assert urls(again.stdout)["api-gateway"] == f"127.0.0.1:{port}"

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        refused = tptctl("up", "--state-dir", str(state_dir), "--port", str(busy))
    assert refused.returncode == 1
    assert f"--port {busy}: another program listens on 127.0.0.1:{busy}" in refused.stderr
    assert tptctl("status", "--state-dir", str(state_dir)).returncode == 0
    assert local_server() == f"127.0.0.1:{port}", "a refused --port changes nothing"

    bad = tptctl("up", "--state-dir", str(state_dir), "--port", "70000")
    assert bad.returncode == 2 and "'70000' is not a port number: use 1-65535" in bad.stderr
