"""Helpers and pytest fixtures for tests against real PostgreSQL and Redis.

Other suites reuse them by importing the fixtures into their ``conftest.py``::

    from threeport_runtime.testing import database_url, redis_client, stream_prefix  # noqa: F401

Each test gets a throwaway database and a unique stream prefix, both cleaned up afterwards.
``THREEPORT_TEST_POSTGRES_URL`` and ``THREEPORT_TEST_REDIS_URL`` point at the servers.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import psycopg
import pytest
from redis.asyncio import Redis

from threeport_runtime.bus.streams import connect_redis
from threeport_runtime.config import EncryptionKey, Settings
from threeport_runtime.db.engine import libpq_url
from threeport_runtime.reconcile.controller import ControllerOptions
from threeport_runtime.runtime import RunningService, ServiceDefinition, start_service

ADMIN_DATABASE_URL = os.environ.get(
    "THREEPORT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("THREEPORT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TEST_CREDENTIAL = "test-service-credential-0123456789"

T = TypeVar("T")


@asynccontextmanager
async def throwaway_database(admin_url: str = ADMIN_DATABASE_URL) -> AsyncIterator[str]:
    """Creates an empty database and yields its SQLAlchemy URL; drops it afterwards."""
    name = f"tp_test_{uuid.uuid4().hex[:12]}"
    async with await psycopg.AsyncConnection.connect(libpq_url(admin_url), autocommit=True) as admin:
        await admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = admin_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        async with await psycopg.AsyncConnection.connect(libpq_url(admin_url), autocommit=True) as admin:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def unique_stream_prefix() -> str:
    return f"test:{uuid.uuid4().hex[:10]}:"


async def delete_streams(redis: Redis, prefix: str) -> None:
    """Deletes every key under the prefix (streams, leases, dead letters)."""
    async for key in redis.scan_iter(match=prefix + "*", count=1000):
        await redis.delete(key)


def make_encryption_keys(*key_ids: str) -> tuple[EncryptionKey, ...]:
    return tuple(EncryptionKey(key_id, os.urandom(32)) for key_id in key_ids or ("k1",))


def encryption_keys_env(keys: tuple[EncryptionKey, ...]) -> str:
    return ",".join(f"{k.key_id}:{base64.b64encode(k.secret).decode()}" for k in keys)


def make_settings(
    service: str, database_url: str, stream_prefix: str, redis_url: str = REDIS_URL, **overrides: Any
) -> Settings:
    settings = Settings(
        service_name=service,
        database_url=database_url,
        redis_url=redis_url,
        listen_address="127.0.0.1:0",
        service_credential=TEST_CREDENTIAL,
        stream_prefix=stream_prefix,
    )
    return settings.with_overrides(**overrides) if overrides else settings


async def start_test_service(
    definition: ServiceDefinition, settings: Settings, controller_options: ControllerOptions | None = None
) -> RunningService:
    """Starts the service in this process on a free port (``running.port``)."""
    local = settings.with_overrides(listen_address="127.0.0.1:0")
    return await start_service(definition, local, controller_options)


async def wait_until(
    probe: Callable[[], Awaitable[T]],
    *,
    within: float = 20.0,
    interval: float = 0.05,
    what: str = "condition",
) -> T:
    """Polls ``probe`` until it returns something truthy; fails the test after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what} (last value {value!r})")
        await asyncio.sleep(interval)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PrivateRedis:
    """A throwaway ``redis-server`` without persistence, for tests that restart or flush it."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not os.path.exists(binary):
            pytest.skip("redis-server is not installed")
        self._binary = binary
        self.port = free_port()
        self._directory = tempfile.mkdtemp(prefix="tp-redis-")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self._process = subprocess.Popen(
            [
                self._binary,
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self._directory,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.02)
        raise RuntimeError("private redis-server did not start")

    def stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def restart(self) -> None:
        """Kills and restarts it empty, as a Redis without persistence does after a crash."""
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._directory, ignore_errors=True)


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    async with throwaway_database() as url:
        yield url


@pytest.fixture
def stream_prefix() -> str:
    return unique_stream_prefix()


@pytest.fixture
async def redis_client(stream_prefix: str) -> AsyncIterator[Redis]:
    client = connect_redis(REDIS_URL)
    try:
        yield client
    finally:
        await delete_streams(client, stream_prefix)
        await client.aclose()


@pytest.fixture
def private_redis() -> Any:
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.close()
