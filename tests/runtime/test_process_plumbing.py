"""What a service process runs on: uvloop as its event loop (set by the entry point, not by the
libraries) and hiredis parsing Redis replies; and what it does not carry: the migration tooling."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
import uvloop
from redis._parsers.hiredis import _AsyncHiredisParser

from tests.runtime.toy_service.service import DEFINITION
from threeport_runtime import cli
from threeport_runtime.bus.streams import connect_redis
from threeport_runtime.config import Settings
from threeport_runtime.runtime import ServiceDefinition
from threeport_runtime.testing import REDIS_URL, TEST_CREDENTIAL


def test_serve_runs_the_service_on_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    loops: list[asyncio.AbstractEventLoop] = []

    async def serve(_definition: ServiceDefinition, _settings: Settings) -> None:
        loops.append(asyncio.get_running_loop())

    monkeypatch.setattr(cli, "serve", serve)
    monkeypatch.setattr(cli, "configure_telemetry", lambda *_args: None)
    monkeypatch.setattr(cli, "configure_logging", lambda *_args: None)
    monkeypatch.setenv("THREEPORT_DATABASE_URL", "postgresql+psycopg://unused/none")
    monkeypatch.setenv("THREEPORT_SERVICE_CREDENTIAL", TEST_CREDENTIAL)
    assert cli.main(DEFINITION, ["serve"]) == 0
    assert [type(loop) for loop in loops] == [uvloop.Loop]


async def test_redis_replies_are_parsed_by_hiredis() -> None:
    client = connect_redis(REDIS_URL)
    try:
        connection = await client.connection_pool.get_connection()
        try:
            assert isinstance(connection._parser, _AsyncHiredisParser)
        finally:
            await client.connection_pool.release(connection)
    finally:
        await client.aclose()


SERVICES = ("threeport_registry", "threeport_cluster_manager", "threeport_workload_delivery",
            "threeport_addon_manager", "threeport_infra_provider")


def test_a_serving_process_does_not_import_the_migration_tooling() -> None:
    """Migrations run as ``migrate``, a process of their own (``tptctl up`` runs it before
    ``serve``); Alembic, with Mako and Pygments under it, would cost every serving process ~7 MB."""
    # What each entry point imports before it calls main (the services' __main__ call it at once).
    modules = ["threeport_runtime.cli", *(f"{name}.service" for name in SERVICES), "threeport_api_gateway.__main__"]
    probe = (f"import sys; import {', '.join(modules)}; "
             "print(sorted({'alembic', 'mako', 'pygments'} & sys.modules.keys()))")
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]", found.stdout + found.stderr
