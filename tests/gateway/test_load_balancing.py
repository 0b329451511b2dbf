"""The gateway spreads calls over every replica of a backend, and moves off a replica that
reports NOT_SERVING (as one does when it starts shutting down) or that is gone."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import pytest
from grpc_health.v1 import health_pb2

from threeport_runtime.rpc.client import channel_target

from .conftest import World, gateway_settings, open_world
from .registry_stand_in import RegistryStandIn

CALLS = 30


@pytest.fixture
async def replicas() -> AsyncIterator[list[RegistryStandIn]]:
    started = [RegistryStandIn(), RegistryStandIn(), RegistryStandIn()]
    for replica in started:
        await replica.start()
    try:
        yield started
    finally:
        for replica in started:
            await replica.stop()


@pytest.fixture
async def balanced(database_url: str, stream_prefix: str, replicas: list[RegistryStandIn]) -> AsyncIterator[World]:
    addresses = ",".join(replica.target for replica in replicas)
    settings = gateway_settings(database_url, stream_prefix, replicas[0])
    settings = type(settings)(**{**settings.__dict__, "backend_addresses": {"registry": addresses}})
    async with open_world(settings, replicas[0]) as running:
        yield running


async def spread(world: World, replicas: list[RegistryStandIn]) -> Counter[int]:
    for replica in replicas:
        replica.calls.clear()
    for index in range(CALLS):
        await world.admin.application.get_application(name=f"projects/acme/applications/a{index}")
    return Counter({index: len(replica.calls) for index, replica in enumerate(replicas) if replica.calls})


def test_channel_targets() -> None:
    assert channel_target("registry:50051") == "registry:50051"
    assert channel_target("dns:///registry-pods.threeport.svc:50051") == "dns:///registry-pods.threeport.svc:50051"
    assert channel_target("10.0.0.1:50051, 10.0.0.2:50051") == "ipv4:10.0.0.1:50051,10.0.0.2:50051"
    assert channel_target("[::1]:1,[::2]:1") == "ipv6:[::1]:1,[::2]:1"


async def test_calls_are_spread_over_all_replicas(balanced: World, replicas: list[RegistryStandIn]) -> None:
    counts = await spread(balanced, replicas)

    assert sorted(counts) == [0, 1, 2], counts
    assert sum(counts.values()) == CALLS


async def test_a_replica_that_is_not_serving_gets_no_calls(balanced: World, replicas: list[RegistryStandIn]) -> None:
    await spread(balanced, replicas)  # connect to all of them first
    assert replicas[1].server is not None
    await replicas[1].server.health.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    counts: Counter[int] = Counter()
    for _attempt in range(50):  # the health watch reaches the gateway asynchronously
        counts = await spread(balanced, replicas)
        if 1 not in counts:
            break

    assert sorted(counts) == [0, 2], counts


async def test_a_replica_that_is_gone_loses_no_calls(balanced: World, replicas: list[RegistryStandIn]) -> None:
    await spread(balanced, replicas)
    await replicas[2].stop()  # graceful: NOT_SERVING, then the port closes

    counts = await spread(balanced, replicas)

    assert sum(counts.values()) == CALLS
    assert 2 not in counts
