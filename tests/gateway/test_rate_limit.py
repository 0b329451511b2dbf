"""Per-principal rate limits: RESOURCE_EXHAUSTED with a RetryInfo delay, one bucket per principal."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from threeport.sdk import ResourceExhaustedError
from threeport_api_gateway.domain.ratelimit import RateLimiter
from threeport_api_gateway.service import start_gateway

from .conftest import World, gateway_settings
from .registry_stand_in import RegistryStandIn


@pytest.fixture
async def limited(database_url: str, stream_prefix: str, registry: RegistryStandIn) -> AsyncIterator[World]:
    # A refill this slow cannot add a token during the test, so the outcome never depends on timing.
    settings = gateway_settings(database_url, stream_prefix, registry, rate_limit_per_second=0.001, rate_limit_burst=3)
    gateway = await start_gateway(settings)
    assert gateway.bootstrap_token is not None
    world = World(gateway, settings, database_url, registry, gateway.bootstrap_token)
    try:
        yield world
    finally:
        for opened in world.clients:
            await opened.close()
        await world.gateway.stop(grace=0)


async def test_a_principal_over_its_burst_gets_resource_exhausted_with_retry_info(limited: World) -> None:
    admin = limited.admin
    for _ in range(3):
        await admin.principal.get_current_principal()
    with pytest.raises(ResourceExhaustedError) as raised:
        await admin.principal.get_current_principal()
    assert raised.value.reason == "RATE_LIMITED"
    assert raised.value.retry_delay is not None and raised.value.retry_delay > 0


async def test_buckets_are_per_principal(limited: World) -> None:
    admin = limited.admin
    await admin.principal.create_principal(principal_id="other")  # admin: 2 of 3 left
    token = (await admin.token.create_token(parent="principals/other")).secret  # 1 left
    await admin.principal.get_current_principal()  # none left
    with pytest.raises(ResourceExhaustedError):
        await admin.project.list_projects_page()
    other = limited.client(token)
    for _ in range(3):
        assert (await other.principal.get_current_principal()).principal.name == "principals/other"
    with pytest.raises(ResourceExhaustedError):
        await other.principal.get_current_principal()


def test_buckets_refill_at_the_configured_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=2.0, burst=2, clock=lambda: now[0])
    assert [limiter.acquire("p") for _ in range(2)] == [0.0, 0.0]
    assert limiter.acquire("p") == pytest.approx(0.5)
    now[0] = 0.5
    assert limiter.acquire("p") == 0.0
    assert limiter.acquire("q") == 0.0
    assert RateLimiter(rate=0, burst=1).acquire("p") == 0.0
