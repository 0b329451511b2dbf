"""``python -m threeport_api_gateway migrate`` and ``serve`` as real processes."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import uvloop

import threeport_api_gateway.__main__ as entrypoint
from threeport.sdk import Client
from threeport_api_gateway.config import GatewaySettings
from threeport_runtime.db.engine import libpq_url
from threeport_runtime.testing import TEST_CREDENTIAL, free_port, unique_stream_prefix

from .conftest import _admin_execute, _database_url

READY_LINE = "api gateway listening on port"


def _environment(database_url: str, stream_prefix: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "THREEPORT_DATABASE_URL": database_url,
        "THREEPORT_SERVICE_CREDENTIAL": TEST_CREDENTIAL,
        "THREEPORT_LISTEN_ADDRESS": f"127.0.0.1:{port}",
        "THREEPORT_STREAM_PREFIX": stream_prefix,
        "THREEPORT_LOG_LEVEL": "WARNING",
        "THREEPORT_GATEWAY_DRAIN_SECONDS": "0",
    }


@pytest.fixture
def empty_database() -> Iterator[str]:
    """A database with nothing in it, so that ``migrate`` has work to do."""
    name = f"tp_gw_empty_{os.getpid()}_{free_port()}"
    _admin_execute(f'CREATE DATABASE "{name}"')
    try:
        yield _database_url(name)
    finally:
        _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _serve(environment: dict[str, str], *arguments: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "threeport_api_gateway", "serve", *arguments],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    for line in process.stderr:  # blocks until the gateway says it listens, or exits
        if READY_LINE in line:
            return process
    process.wait()
    raise AssertionError(f"gateway exited with {process.returncode} before listening")


def _stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0


def test_migrate_then_serve_writes_the_bootstrap_token_to_a_private_file(empty_database: str, tmp_path: Path) -> None:
    port = free_port()
    environment = _environment(empty_database, unique_stream_prefix(), port)
    migrate = subprocess.run(
        [sys.executable, "-m", "threeport_api_gateway", "migrate"], env=environment, capture_output=True, text=True
    )
    assert migrate.returncode == 0, migrate.stderr
    token_file = tmp_path / "secrets" / "admin-token"

    first = _serve(environment, "--bootstrap-token-file", str(token_file))
    try:
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        token = token_file.read_text().strip()
        with Client(f"127.0.0.1:{port}", token=token) as client:
            assert client.principal.get_current_principal().principal.name == "principals/admin"
    finally:
        _stop(first)
    with psycopg.connect(libpq_url(empty_database)) as connection:
        assert connection.execute("select count(*) from gateway.bootstrap").fetchall() == [(1,)]


def test_missing_settings_exit_with_a_message() -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("THREEPORT_")}
    result = subprocess.run(
        [sys.executable, "-m", "threeport_api_gateway", "serve"], env=environment, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "THREEPORT_DATABASE_URL" in result.stderr


def test_serve_runs_the_gateway_on_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    loops: list[asyncio.AbstractEventLoop] = []

    async def serve(_settings: GatewaySettings) -> None:
        loops.append(asyncio.get_running_loop())

    monkeypatch.setattr(entrypoint, "serve", serve)
    monkeypatch.setattr(entrypoint, "configure_logging", lambda *_args: None)
    monkeypatch.setattr("threeport_runtime.telemetry.configure_telemetry", lambda *_args: None)
    monkeypatch.setenv("THREEPORT_DATABASE_URL", "postgresql+psycopg://unused/none")
    monkeypatch.setenv("THREEPORT_SERVICE_CREDENTIAL", TEST_CREDENTIAL)
    assert entrypoint.main(["serve"]) == 0
    assert [type(loop) for loop in loops] == [uvloop.Loop]
