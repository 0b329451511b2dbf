"""AccountCredentialsService: temporary credentials of an account, scoped to a purpose, for the
addon-manager only (internal); an account's own keys never leave; bad requests name the field;
an account that cannot issue scoped credentials says what to do."""

from __future__ import annotations

import logging

import boto3
import pytest

from tests.infra.conftest import REGION, Infra, Moto
from tests.infra.test_accounts import aws_account
from threeport.sdk import FailedPreconditionError, InvalidArgumentError, PermissionDeniedError
from threeport_infra_provider.cloud.aws import AwsAccess
from threeport_infra_provider.cloud.credentials import CannotIssue, issue
from threeport_infra_provider.domain.credentials import PURPOSES


async def test_keys_of_an_iam_user_issue_a_federation_token_not_the_keys(
    infra: Infra, moto: Moto, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await infra.operator.account.create_account(
        account_id="main", account=aws_account(moto, key=moto.access_key_id, secret=moto.secret_access_key,
                                               default=True))
    issued = await infra.delivery.internal.account_credentials.issue_account_credentials(
        purpose="secrets", duration_seconds=3600)  # the default account
    assert issued.account == "accounts/main" and issued.region == REGION and issued.endpoint_url == moto.endpoint
    assert issued.session_token and issued.access_key_id != moto.access_key_id  # not the account's own keys
    assert issued.expire_time.seconds > 0
    # (moto does not authenticate federation tokens; the role test below uses what it issues.)
    assert issued.secret_access_key not in caplog.text and moto.secret_access_key not in caplog.text


async def test_a_role_is_assumed_with_the_purposes_policy(infra: Infra, moto: Moto) -> None:
    await infra.operator.account.create_account(
        account_id="via-role", account=aws_account(moto, key=moto.access_key_id, secret=moto.secret_access_key,
                                                   role_arn="arn:aws:iam::123456789012:role/threeport"))
    issued = await infra.delivery.internal.account_credentials.issue_account_credentials(
        account="accounts/via-role", purpose="dns")
    sts = boto3.client("sts", region_name=REGION, endpoint_url=moto.endpoint,
                       aws_access_key_id=issued.access_key_id, aws_secret_access_key=issued.secret_access_key,
                       aws_session_token=issued.session_token)
    assert sts.get_caller_identity()["Arn"].endswith(":assumed-role/threeport/threeport-dns")


async def test_only_services_may_ask_and_bad_requests_name_the_field(infra: Infra, moto: Moto) -> None:
    await infra.operator.account.create_account(
        account_id="main", account=aws_account(moto, key=moto.access_key_id, secret=moto.secret_access_key))
    with pytest.raises(PermissionDeniedError):
        await infra.operator.internal.account_credentials.issue_account_credentials(
            account="accounts/main", purpose="dns")
    with pytest.raises(InvalidArgumentError) as bad:
        await infra.delivery.internal.account_credentials.issue_account_credentials(
            account="main", purpose="s3", duration_seconds=60)
    fields = {v.field: v.description for v in bad.value.field_violations}
    assert set(fields) == {"account", "purpose", "duration_seconds"}
    assert "dns" in fields["purpose"] and "secrets" in fields["purpose"]
    with pytest.raises(FailedPreconditionError, match="does not exist"):
        await infra.delivery.internal.account_credentials.issue_account_credentials(
            account="accounts/nope", purpose="dns")


async def test_an_account_without_a_role_or_user_keys_says_to_give_it_a_role() -> None:
    # Temporary keys or the ambient identity cannot scope credentials down: nothing is asked of AWS.
    for access in (AwsAccess(region=REGION, access_key_id="ASIA", secret_access_key="s", session_token="t"),
                   AwsAccess(region=REGION)):
        with pytest.raises(CannotIssue, match="--role-arn"):
            await issue(access, "secrets", PURPOSES["secrets"].policy(), 3600)
