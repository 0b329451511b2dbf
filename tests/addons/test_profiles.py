"""AddonProfiles (the registry's) configure installations: their values reach the cluster and a
change to them rolls the installation; their uninstall grace period overrides the setting."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from google.protobuf import json_format

from tests.addons.charts import DEPLOYMENT, echo_addon
from tests.addons.conftest import FAST, Stack
from tests.delivery.conftest import OPERATOR, client, is_ready
from threeport.registry.v1alpha1 import addon_profile_pb2
from threeport.sdk import AsyncClient, InvalidArgumentError
from threeport_registry.service import DEFINITION as REGISTRY
from threeport_runtime.db.migrations import upgrade
from threeport_runtime.runtime import RunningService, start_service
from threeport_runtime.testing import make_settings, wait_until


@pytest.fixture
def registry_backend() -> str:
    """A port for the registry, chosen before the addon-manager starts: each must know where the
    other listens (the registry learns the catalog's types from the addon-manager), as with
    `tptctl up`, which chooses every port first."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


@pytest.fixture
async def registry(
    stack: Stack, registry_backend: str, database_url: str, stream_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[RunningService]:
    await asyncio.to_thread(upgrade, REGISTRY.migrations_dir, database_url)
    monkeypatch.setenv("THREEPORT_BACKEND_ADDONS", f"127.0.0.1:{stack.addons.port}")
    settings = make_settings("registry", database_url, stream_prefix, listen_address=registry_backend)
    running = await start_service(REGISTRY, settings, FAST)
    try:
        yield running
    finally:
        await running.stop(grace=1.0)


async def put_profile(registry: AsyncClient, spec: dict[str, Any]) -> Any:
    profile = json_format.ParseDict({"spec": spec}, addon_profile_pb2.AddonProfile())
    profile.name = "addonProfiles/echo"
    return await registry.addon_profile.update_addon_profile(addon_profile=profile, allow_missing=True)


async def until_accepted(registry: AsyncClient, spec: dict[str, Any]) -> Any:
    """Puts the profile once the registry accepts it: a `kafka` profile, once the registry has
    learned the type from the catalog."""

    async def put() -> Any:
        try:
            return await put_profile(registry, spec)
        except InvalidArgumentError:
            return None

    return await wait_until(put, within=45, interval=0.2, what="the registry to accept a kafka AddonProfile")


def message_in(stack: Stack, cid: str) -> str | None:
    found = stack.kube.get(DEPLOYMENT.format(cid))
    return None if found is None else str(found["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"])


async def test_profile_values_reach_the_cluster_and_a_change_rolls_the_installation(
    stack: Stack, registry: RunningService, chart_repository: tuple[str, dict[str, str]]
) -> None:
    url, digests = chart_repository
    operator = client(registry.port, OPERATOR, stack.opened)
    cid = stack.cluster.rsplit("/", 1)[-1]
    await stack.apply_addon(echo_addon(url, "1.0.0", digests["1.0.0"]))
    await until_accepted(operator, {"type": "kafka", "addon": "addons/echo", "values": {"message": "from-the-profile"}})
    claim = await stack.claim("stream", "kafka", "projects/acme/deployments/ledger-prod")
    await stack.claim_when(claim.name, is_ready, "the kafka claim to be Ready")
    assert message_in(stack, cid) == "from-the-profile"  # the profile's values over the catalog's

    await put_profile(operator, {"type": "kafka", "addon": "addons/echo", "values": {"message": "changed"}})

    async def rolled() -> bool:
        return message_in(stack, cid) == "changed"

    await wait_until(rolled, within=45, interval=0.2, what="the profile change to reach the cluster")


async def test_the_profiles_grace_period_overrides_the_setting(
    stack: Stack, registry: RunningService, chart_repository: tuple[str, dict[str, str]]
) -> None:
    url, digests = chart_repository
    operator = client(registry.port, OPERATOR, stack.opened)
    cid = stack.cluster.rsplit("/", 1)[-1]
    await stack.apply_addon(echo_addon(url, "1.0.0", digests["1.0.0"]))
    # The setting is the production default (10m); the profile says 2s.
    await until_accepted(operator, {"type": "kafka", "addon": "addons/echo", "uninstallGracePeriod": "2s"})
    claim = await stack.claim("stream", "kafka", "projects/acme/deployments/ledger-prod")
    await stack.claim_when(claim.name, is_ready, "the kafka claim to be Ready")
    await stack.service.internal.addon_claim.delete_addon_claim(name=claim.name)

    async def gone() -> bool:
        return stack.kube.get(DEPLOYMENT.format(cid)) is None and not await stack.installations()

    await wait_until(gone, within=45, interval=0.2, what="the unused installation to be removed after 2s")
