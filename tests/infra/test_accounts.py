"""Accounts: verified with STS when added (bad or unreachable: a clear error, nothing stored),
credentials sealed (never in responses, events or plaintext columns), one default, and
deletion refused while something uses the account."""

from __future__ import annotations

import psycopg
import pytest

from tests.infra.conftest import REGION, Infra, Moto
from threeport.infra.v1alpha1 import account_pb2, service_claim_pb2
from threeport.sdk import FailedPreconditionError, InvalidArgumentError, NotFoundError
from threeport_runtime.testing import free_port


def aws_account(moto: Moto, *, key: str = "", secret: str = "", endpoint: str = "", default: bool = False,
                ambient: bool = False, role_arn: str = "") -> account_pb2.Account:
    return account_pb2.Account(spec=account_pb2.AccountSpec(
        provider="aws", default_region=REGION, endpoint_url=endpoint or moto.endpoint, default=default,
        aws=account_pb2.AwsCredentials(access_key_id=key, secret_access_key=secret, ambient=ambient,
                                       role_arn=role_arn),
    ))


def plaintext_rows(database_url: str, needle: str, schema: str = "infra") -> list[str]:
    """Every table of the schema whose rows contain ``needle`` anywhere, as text."""
    found = []
    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://")) as db:
        tables = [r[0] for r in db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,))]
        for table in tables:
            hit = db.execute(f'SELECT count(*) FROM "{schema}"."{table}" t WHERE t::text LIKE %s', (f"%{needle}%",))
            row = hit.fetchone()
            if row and row[0]:
                found.append(table)
    return found


async def test_good_credentials_are_verified_and_sealed(infra: Infra, moto: Moto) -> None:
    created = await infra.operator.account.create_account(
        account_id="main", account=aws_account(moto, key=moto.access_key_id, secret=moto.secret_access_key))
    assert created.state == 3, created  # READY: verified at once
    assert created.status.account_id == "123456789012"
    assert created.status.caller_arn.endswith(":user/threeport")
    assert created.status.has_credentials
    fetched = await infra.operator.account.get_account(name="accounts/main")
    listed = (await infra.operator.account.list_accounts_page()).accounts
    for shown in (created, fetched, *listed):
        assert not shown.spec.aws.secret_access_key and not shown.spec.aws.access_key_id
        assert moto.secret_access_key not in str(shown)
    assert plaintext_rows(infra.database_url, moto.secret_access_key) == []
    assert plaintext_rows(infra.database_url, moto.access_key_id) == []


async def test_refused_credentials_store_nothing(infra: Infra, moto: Moto) -> None:
    with pytest.raises(FailedPreconditionError) as refused:
        await infra.operator.account.create_account(
            account_id="bad", account=aws_account(moto, key="AKIAIOSFODNN7EXAMPLE", secret="wrong-secret"))
    assert "could not be verified" in refused.value.message
    assert "InvalidClientTokenId" in refused.value.message
    assert "wrong-secret" not in refused.value.message
    with pytest.raises(NotFoundError):
        await infra.operator.account.get_account(name="accounts/bad")
    assert plaintext_rows(infra.database_url, "wrong-secret") == []
    assert plaintext_rows(infra.database_url, "accounts/bad") == []


async def test_unreachable_endpoint_is_a_clear_error(infra: Infra, moto: Moto) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(FailedPreconditionError) as refused:
        await infra.operator.account.create_account(
            account_id="far", account=aws_account(moto, key="k", secret="s", endpoint=nowhere))
    assert f"cannot reach {nowhere}" in refused.value.message
    with pytest.raises(NotFoundError):
        await infra.operator.account.get_account(name="accounts/far")


async def test_bad_input_names_the_fields(infra: Infra, moto: Moto) -> None:
    bad = aws_account(moto, key="only-the-id")
    bad.spec.default_region = "frankfurt"
    with pytest.raises(InvalidArgumentError) as invalid:
        await infra.operator.account.create_account(account_id="x", account=bad)
    fields = {v.field for v in invalid.value.field_violations}
    assert fields == {"account.spec.default_region", "account.spec.aws.secret_access_key"}
    with pytest.raises(InvalidArgumentError) as invalid:
        await infra.operator.account.create_account(account_id="y", account=aws_account(moto))
    assert "--ambient" in invalid.value.field_violations[0].description


async def test_one_default_and_delete_refused_while_used(infra: Infra, moto: Moto) -> None:
    for account_id in ("a", "b"):
        account = aws_account(moto, key=moto.access_key_id, secret=moto.secret_access_key, default=True)
        await infra.operator.account.create_account(account_id=account_id, account=account)
    first = await infra.operator.account.get_account(name="accounts/a")
    second = await infra.operator.account.get_account(name="accounts/b")
    assert (first.spec.default, second.spec.default) == (False, True)

    claim = service_claim_pb2.ServiceClaim(spec=service_claim_pb2.ServiceClaimSpec(
        owner="projects/acme/deployments/shop-prod", dependency="files", type="bucket",
        implementation="aws-s3", account="accounts/a"))
    await infra.delivery.internal.service_claim.create_service_claim(service_claim_id="c1", service_claim=claim)
    with pytest.raises(FailedPreconditionError) as in_use:
        await infra.operator.account.delete_account(name="accounts/a")
    assert "serviceClaims/c1" in in_use.value.message
    # The operator may still remove it on purpose; the credentials go with it.
    await infra.operator.account.delete_account(name="accounts/a", force=True)
    with pytest.raises(NotFoundError):
        await infra.operator.account.get_account(name="accounts/a")
    assert "sealed_secrets" not in plaintext_rows(infra.database_url, "accounts/a")


async def test_update_reverifies_and_keeps_or_replaces_the_credentials(infra: Infra, moto: Moto) -> None:
    accounts = infra.operator.account
    created = await accounts.create_account(
        account_id="upd", account=aws_account(moto, key=moto.access_key_id, secret=moto.secret_access_key))
    # A new region, no credentials in the request: the stored ones are kept and verified again.
    moved = account_pb2.Account(name=created.name, etag=created.etag,
                                spec=account_pb2.AccountSpec(provider="aws", default_region="eu-west-1",
                                                             endpoint_url=moto.endpoint))
    updated = await accounts.update_account(account=moved)
    assert updated.spec.default_region == "eu-west-1" and updated.status.has_credentials
    # New keys that AWS refuses: nothing changes.
    wrong = account_pb2.Account(name=created.name, spec=account_pb2.AccountSpec(
        provider="aws", default_region="eu-west-1", endpoint_url=moto.endpoint,
        aws=account_pb2.AwsCredentials(access_key_id="AKIAWRONG", secret_access_key="nope")))
    with pytest.raises(FailedPreconditionError):
        await accounts.update_account(account=wrong)
    assert plaintext_rows(infra.database_url, "AKIAWRONG") == []
    again = await accounts.get_account(name=created.name)
    assert again.etag == updated.etag and again.spec.default_region == "eu-west-1"
