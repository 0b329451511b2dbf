"""A bootstrap token chosen before the first start (the Helm chart generates one into its
Secret): exactly that text becomes the first administrator's token, nothing is printed, and a
malformed one stops the gateway at start naming the variable."""

from __future__ import annotations

import secrets
import uuid

import pytest

from threeport.sdk import NO_RETRY, AsyncClient, UnauthenticatedError
from threeport_api_gateway.config import GatewaySettings
from threeport_api_gateway.service import start_gateway
from threeport_runtime.config import ConfigError
from threeport_runtime.testing import TEST_CREDENTIAL

from .conftest import gateway_settings, query
from .registry_stand_in import RegistryStandIn


def preset_token() -> str:
    return f"tp_{uuid.uuid4().hex}_{secrets.token_urlsafe(32)}"


async def test_the_preset_token_is_the_administrators(
    database_url: str, stream_prefix: str, registry: RegistryStandIn
) -> None:
    token = preset_token()
    settings = gateway_settings(database_url, stream_prefix, registry, bootstrap_token=token)
    gateway = await start_gateway(settings)
    try:
        assert gateway.bootstrap_token is None  # its owner has it already: nothing to print
        async with AsyncClient(f"127.0.0.1:{gateway.port}", token=token, retry=NO_RETRY) as admin:
            me = await admin.principal.get_current_principal()
            assert me.principal.name == "principals/admin"
            listed = [t async for t in admin.token.list_tokens(parent="principals/admin")]
            assert [t.spec.prefix for t in listed] == [token[:11]]
        async with AsyncClient(f"127.0.0.1:{gateway.port}", token=preset_token(), retry=NO_RETRY) as other:
            with pytest.raises(UnauthenticatedError):
                await other.principal.get_current_principal()
        [(stored_hash,)] = await query(database_url, "SELECT secret_hash FROM gateway.tokens")
        assert token.split("_", 2)[2] not in stored_hash  # the secret part (it may itself contain "_")
    finally:
        await gateway.stop(grace=0)


def test_a_malformed_preset_token_is_refused_at_start() -> None:
    environment = {
        "THREEPORT_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        "THREEPORT_SERVICE_CREDENTIAL": TEST_CREDENTIAL,
        "THREEPORT_GATEWAY_BOOTSTRAP_TOKEN": "tp_not-a-token",
    }
    with pytest.raises(ConfigError, match="THREEPORT_GATEWAY_BOOTSTRAP_TOKEN must look like tp_"):
        GatewaySettings.from_env(environment)
