"""Key rotation finishes for the infra-provider: account credentials, generated passwords and
the claims' secret outputs are moved to the new key, after which the old key can be dropped and
everything still decrypts."""

from __future__ import annotations

from typing import Any

from tests.infra.conftest import SERVICE_IDENTITY, Infra, Moto
from tests.infra.test_accounts import aws_account
from tests.infra.test_aws_services import claim, ready_claim
from threeport.sdk import AsyncClient
from threeport_infra_provider.service import DEFINITION
from threeport_runtime.reencrypt import reencrypt
from threeport_runtime.runtime import ServiceRuntime
from threeport_runtime.testing import make_encryption_keys, start_test_service


async def test_everything_moves_to_the_new_key(infra: Infra, moto: Moto) -> None:
    await infra.operator.account.create_account(account_id="main", account=aws_account(
        moto, key=moto.access_key_id, secret=moto.secret_access_key, default=True))
    await infra.delivery.internal.service_claim.create_service_claim(
        service_claim_id="keys", service_claim=claim("keys", "secret", "aws-secretsmanager", keys=["token"]))
    before = await ready_claim(infra, "serviceClaims/keys")
    settings = infra.service.runtime.settings
    await infra.service.stop(grace=1.0)

    (old,) = settings.encryption_keys
    (new,) = make_encryption_keys("k2")
    rotated = settings.with_overrides(encryption_keys=(new, old))
    runtime = ServiceRuntime(rotated, DEFINITION.schema)
    try:
        assert DEFINITION.encrypted_stores is not None
        stores = DEFINITION.encrypted_stores(runtime)
        assert runtime.cipher is not None
        report = await reencrypt(stores, runtime.cipher, ["k2", old.key_id])
        assert report.reencrypted >= 3  # the account's keys, the service's secrets, the claim's outputs
        assert report.unused_keys == [old.key_id]
    finally:
        await runtime.close()

    # The old key is gone: everything still decrypts with the new one alone.
    service = await start_test_service(DEFINITION, settings.with_overrides(encryption_keys=(new,)))
    client = AsyncClient(f"127.0.0.1:{service.port}", metadata=SERVICE_IDENTITY)
    try:
        after: Any = await client.internal.service_claim.get_service_claim(name="serviceClaims/keys")
        assert dict(after.status.outputs.secrets) == dict(before.status.outputs.secrets)
    finally:
        await client.close()
        await service.stop(grace=1.0)
