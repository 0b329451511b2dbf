"""Rate limits: per principal (RESOURCE_EXHAUSTED with a RetryInfo delay, one bucket per
principal), per source for calls failing authentication, and per token id for wrong secrets;
the SDK rides a principal's limit out until each call's deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from threeport.sdk import ResourceExhaustedError, RetryPolicy, UnauthenticatedError
from threeport_api_gateway.access.authentication import WRONG_SECRET_BURST
from threeport_api_gateway.config import GatewaySettings
from threeport_api_gateway.domain import tokens
from threeport_api_gateway.domain.ratelimit import RateLimiter

from .conftest import World, gateway_settings, open_world
from .registry_stand_in import RegistryStandIn

AUTH_FAILURE_BURST = int(GatewaySettings.auth_failure_burst)


@asynccontextmanager
async def limited_to(
    rate: float, burst: int, database_url: str, stream_prefix: str, registry: RegistryStandIn
) -> AsyncIterator[World]:
    settings = gateway_settings(
        database_url, stream_prefix, registry, rate_limit_per_second=rate, rate_limit_burst=burst
    )
    async with open_world(settings, registry) as world:
        yield world


@pytest.fixture
async def limited(database_url: str, stream_prefix: str, registry: RegistryStandIn) -> AsyncIterator[World]:
    # A refill this slow cannot add a token during the test, so the outcome never depends on timing.
    async with limited_to(0.001, 3, database_url, stream_prefix, registry) as world:
        yield world


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


@pytest.fixture
async def tight(database_url: str, stream_prefix: str, registry: RegistryStandIn) -> AsyncIterator[World]:
    """A low limit that refills within the test: 10 calls a second, bursts of 2."""
    async with limited_to(10, 2, database_url, stream_prefix, registry) as world:
        yield world


async def test_concurrent_creates_over_the_limit_all_succeed_with_the_sdks_default_retries(tight: World) -> None:
    # Without retries, a burst of 16 is mostly refused: the limit is real.
    outcomes = await asyncio.gather(
        *(tight.admin.principal.get_current_principal() for _ in range(16)), return_exceptions=True
    )
    assert any(isinstance(outcome, ResourceExhaustedError) for outcome in outcomes)
    # With the default policy (no deadline: the one-minute budget), every create gets through,
    # each once, although most of them were refused more times than UNAVAILABLE is retried.
    client = tight.client(tight.admin_token, retry=RetryPolicy())
    ids = [f"burst-{index}" for index in range(16)]
    created = await asyncio.gather(*(client.project.create_project(project_id=project_id) for project_id in ids))
    assert sorted(project.name for project in created) == sorted(f"projects/{project_id}" for project_id in ids)
    listed = [p.name async for p in client.project.list_projects()]
    assert sorted(name for name in listed if name.startswith("projects/burst-")) == sorted(p.name for p in created)


async def test_a_throttled_call_fails_with_the_rate_limit_at_its_deadline_not_before(limited: World) -> None:
    admin = limited.admin
    for _ in range(3):
        await admin.principal.get_current_principal()  # the burst spent; no refill in the test
    patient = limited.client(limited.admin_token, retry=RetryPolicy())
    started = time.monotonic()
    with pytest.raises(ResourceExhaustedError) as raised:
        await patient.principal.get_current_principal(timeout=0.5)
    assert raised.value.reason == "RATE_LIMITED"
    assert time.monotonic() - started >= 0.5


def test_buckets_refill_at_the_configured_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=2.0, burst=2, clock=lambda: now[0])
    assert [limiter.acquire("p") for _ in range(2)] == [0.0, 0.0]
    assert limiter.acquire("p") == pytest.approx(0.5)
    now[0] = 0.5
    assert limiter.acquire("p") == 0.0
    assert limiter.acquire("q") == 0.0
    assert RateLimiter(rate=0, burst=1).acquire("p") == 0.0


async def test_a_source_failing_authentication_is_refused_before_hashing_and_audited_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[str] = []
    real_verify = tokens.verify
    monkeypatch.setattr(tokens, "verify", lambda secret, stored: hashed.append(secret) or real_verify(secret, stored))
    await world.admin.principal.get_current_principal()  # the real holder, verified before the flood
    known_uid = world.admin_token.split("_")[1]
    stranger = world.client(f"tp_{known_uid}_{'B' * 43}")  # a known token id, a wrong secret
    outcomes = []
    for _ in range(AUTH_FAILURE_BURST + 5):
        try:
            await stranger.project.list_projects_page()
        except (UnauthenticatedError, ResourceExhaustedError) as error:
            outcomes.append(error)
    refused = [e for e in outcomes if isinstance(e, ResourceExhaustedError)]
    assert len(outcomes) == AUTH_FAILURE_BURST + 5 and refused, "the flood was never limited"
    assert refused[0].reason == "RATE_LIMITED" and refused[0].retry_delay
    # The wrong secrets cost one scrypt each only up to the token's own budget, not per call.
    assert len(hashed) <= WRONG_SECRET_BURST + 1
    # Identical failures from one source are one audit entry with a count; refusals add none.
    # The real holder of the attacked token, from the same address, is not locked out.
    entries = [e async for e in world.admin.audit_entry.list_audit_entries(filter="allowed = false")]
    assert [(e.code, e.count) for e in entries] == [("UNAUTHENTICATED", len(outcomes) - len(refused))]


async def test_wrong_secrets_for_one_token_stop_costing_a_hash(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    hashed: list[str] = []
    real_verify = tokens.verify
    monkeypatch.setattr(tokens, "verify", lambda secret, stored: hashed.append(secret) or real_verify(secret, stored))
    known_uid = world.admin_token.split("_")[1]
    for attempt in range(int(WRONG_SECRET_BURST) + 5):
        with pytest.raises(UnauthenticatedError):
            await world.client(f"tp_{known_uid}_{str(attempt).rjust(43, 'C')}").project.list_projects_page()
    assert WRONG_SECRET_BURST <= len(hashed) <= WRONG_SECRET_BURST + 1
