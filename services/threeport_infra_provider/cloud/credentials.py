"""Issues temporary, scoped AWS credentials of an account (STS), for software the platform
installs in clusters.

An account with a role gets ``AssumeRole`` with a session policy; an account with long-term
keys of an IAM user gets ``GetFederationToken`` with that policy. Either way the result can do
only what both the account and the policy allow, and expires. An account that has neither (the
ambient identity, or temporary keys, without a role) cannot issue scoped credentials: the
caller is told to give it a role.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config

from threeport_infra_provider.cloud.aws import AwsAccess, AwsError

SESSION_PREFIX = "threeport-"
# A role's maximum session is one hour unless its owner raised it: asking for more is refused.
ROLE_FALLBACK_DURATION = 3600


class CannotIssue(Exception):
    """The account cannot issue scoped credentials, and what to do about it."""


@dataclass(frozen=True)
class Issued:
    access_key_id: str = field(repr=False)
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    expires: datetime


def _sts(access: AwsAccess) -> Any:
    """STS with the account's own credentials (before any role is assumed)."""
    session = boto3.session.Session(
        aws_access_key_id=access.access_key_id or None,
        aws_secret_access_key=access.secret_access_key or None,
        aws_session_token=access.session_token or None,
        region_name=access.region,
    )
    config = Config(connect_timeout=access.timeout, read_timeout=access.timeout, retries={"max_attempts": 3})
    return session.client("sts", endpoint_url=access.endpoint_url or None, config=config)


async def issue(access: AwsAccess, purpose: str, policy: str, duration: int) -> Issued:
    """Temporary credentials of ``access`` limited by ``policy`` for about ``duration`` seconds."""
    if access.role_arn:
        extra = {"ExternalId": access.external_id} if access.external_id else {}

        def assume(seconds: int) -> Any:
            return _sts(access).assume_role(RoleArn=access.role_arn, RoleSessionName=SESSION_PREFIX + purpose,
                                            Policy=policy, DurationSeconds=seconds, **extra)

        what = f"assuming {access.role_arn} for {purpose}"
        try:
            found = await access.call(what, lambda: assume(duration))
        except AwsError as error:
            if error.code != "ValidationError" or duration <= ROLE_FALLBACK_DURATION:
                raise
            found = await access.call(what, lambda: assume(ROLE_FALLBACK_DURATION))
    elif access.access_key_id and not access.session_token:
        found = await access.call(
            f"getting a federation token for {purpose}",
            lambda: _sts(access).get_federation_token(Name=SESSION_PREFIX + purpose, Policy=policy,
                                                      DurationSeconds=duration),
        )
    else:
        raise CannotIssue(
            "the account has no role and no long-term keys of an IAM user, so no scoped credentials can be "
            "issued from it: give it a role (tptctl account add ... --role-arn), or give the addon its own "
            "identity (roleArn in its values, for IRSA)")
    credentials = found["Credentials"]
    return Issued(str(credentials["AccessKeyId"]), str(credentials["SecretAccessKey"]),
                  str(credentials["SessionToken"]), credentials["Expiration"])
