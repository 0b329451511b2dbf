"""What a service process runs on: uvloop as its event loop (set by the entry point, not by the
libraries) and hiredis parsing Redis replies."""

from __future__ import annotations

import asyncio

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
