"""A service workload-delivery calls is down (the registry restarting, as in the chaos test):
``Deploy`` answers UNAVAILABLE with a retry hint, so that callers retry, never INTERNAL; the
answer names no internal address."""

from __future__ import annotations

import asyncio

import pytest

from tests.delivery.conftest import ADMIN, FAST, PARENT, client, delivery_env
from threeport.sdk import AsyncClient, UnavailableError
from threeport_cli.local.processes import free_port
from threeport_runtime.db.migrations import upgrade
from threeport_runtime.testing import make_settings, start_test_service
from threeport_workload_delivery.service import DEFINITION as DELIVERY


async def test_deploy_while_the_registry_is_down_is_unavailable_not_internal(
    database_url: str, stream_prefix: str, redis_client: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    await asyncio.to_thread(upgrade, DELIVERY.migrations_dir, database_url)
    nobody = free_port()  # nothing listens there: the registry and cluster-manager are "restarting"
    delivery_env(monkeypatch, nobody, nobody)
    delivery = await start_test_service(
        DELIVERY, make_settings("workload_delivery", database_url, stream_prefix), FAST)
    opened: list[AsyncClient] = []
    try:
        admin = client(delivery.port, ADMIN, opened)
        with pytest.raises(UnavailableError) as raised:
            await admin.deployment.deploy(parent=PARENT, application="shop", environment="dev")
        assert "cannot reach a service it depends on" in raised.value.message
        assert "127.0.0.1" not in raised.value.message and str(nobody) not in raised.value.message
        assert raised.value.retry_delay is not None and raised.value.retry_delay > 0
    finally:
        for made in opened:
            await made.close()
        await delivery.stop(grace=1.0)
