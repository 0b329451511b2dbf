"""Fixtures of the runtime suite: a migrated toy service on a throwaway database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass

import grpc
import pytest
from redis.asyncio import Redis

from tests.runtime.toy_service.service import DEFINITION
from threeport.registry.v1alpha1 import application_pb2_grpc
from threeport_kubesim.control import ClusterInfo
from threeport_kubesim.testing import EmulatorHandle, run_emulator
from threeport_runtime.db.engine import Database
from threeport_runtime.db.migrations import upgrade
from threeport_runtime.reconcile.controller import Controller, ControllerOptions, Reconciler, Watch
from threeport_runtime.runtime import RunningService
from threeport_runtime.testing import (  # noqa: F401 - fixtures
    TEST_CREDENTIAL,
    database_url,
    make_settings,
    private_redis,
    redis_client,
    start_test_service,
    stream_prefix,
)

FAST_CONTROLLERS = ControllerOptions(
    workers=4, resync_interval=600.0, lease_ttl=2.0, claim_idle_ms=300, claim_interval=0.2, max_deliveries=3
)


def identity(principal: str = "", roles: str = "") -> list[tuple[str, str]]:
    """Metadata as the gateway sends it: the service credential plus the forwarded user."""
    metadata = [("authorization", f"Service {TEST_CREDENTIAL}")]
    if principal:
        metadata += [("x-threeport-principal", principal), ("x-threeport-roles", roles)]
    return metadata


ALICE = identity("alice", "deployer@projects/acme")


def keys_only_controller(
    name: str,
    reconcile: Reconciler,
    keys: Sequence[str],
    *,
    redis: Redis,
    prefix: str,
    options: ControllerOptions,
) -> Controller:
    """A controller over a fixed set of keys that no event reaches: it only resyncs and requeues."""

    async def all_keys() -> AsyncIterator[str]:
        for key in keys:
            yield key

    return Controller(
        name,
        reconcile,
        redis=redis,
        stream_prefix=prefix,
        watches=[Watch(f"{prefix}none")],
        list_keys=all_keys,
        options=options,
    )


@dataclass
class Toy:
    service: RunningService
    stub: application_pb2_grpc.ApplicationServiceStub
    channel: grpc.aio.Channel


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    """A Kubernetes API emulator per test module (the tests of the runtime's Kubernetes layer)."""
    with run_emulator([], tls=True, speed=50) as handle:
        yield handle


@pytest.fixture
def cluster(emulator: EmulatorHandle) -> Iterator[ClusterInfo]:
    """A fresh emulated cluster, faults cleared and removed after the test."""
    name = f"k-{uuid.uuid4().hex[:8]}"
    yield emulator.add_cluster(name)
    emulator.control.clear_faults(name)
    emulator.remove_cluster(name)


@pytest.fixture
async def migrated_database(database_url: str) -> str:  # noqa: F811
    await asyncio.to_thread(upgrade, DEFINITION.migrations_dir, database_url)
    return database_url


@pytest.fixture
async def db(migrated_database: str) -> AsyncIterator[Database]:
    """The toy service's migrated database, opened as a service opens its own."""
    opened = Database(migrated_database)
    try:
        yield opened
    finally:
        await opened.dispose()


@pytest.fixture
async def toy(migrated_database: str, stream_prefix: str, redis_client: object) -> AsyncIterator[Toy]:  # noqa: F811
    settings = make_settings("toy", migrated_database, stream_prefix)
    service = await start_test_service(DEFINITION, settings, FAST_CONTROLLERS)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{service.port}")
    try:
        yield Toy(service, application_pb2_grpc.ApplicationServiceStub(channel), channel)
    finally:
        await channel.close()
        await service.stop(grace=1.0)
