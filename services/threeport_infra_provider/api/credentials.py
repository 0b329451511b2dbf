"""AccountCredentialsService (internal; the ``policy`` option admits service callers only).

It issues temporary credentials of an account, scoped to a purpose (``domain.credentials``),
to the addon-manager, which puts them into a Kubernetes Secret for the addon that needs them.
Only this RPC ever returns cloud credentials; they are not stored, logged or put in events.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import timestamp_pb2

from threeport.infra.v1alpha1 import account_credentials_pb2, account_credentials_pb2_grpc
from threeport_infra_provider.cloud.accounts import AccountDirectory
from threeport_infra_provider.cloud.aws import AwsError
from threeport_infra_provider.cloud.credentials import CannotIssue, issue
from threeport_infra_provider.domain.credentials import MAX_DURATION, PURPOSES, check_issue_request
from threeport_runtime.errors import FailedPrecondition, InvalidArgument, Unavailable


class AccountCredentialsServicer(account_credentials_pb2_grpc.AccountCredentialsServiceServicer):
    def __init__(self, directory: AccountDirectory):
        self._directory = directory

    async def IssueAccountCredentials(
        self, request: account_credentials_pb2.IssueAccountCredentialsRequest, context: Any
    ) -> account_credentials_pb2.AccountCredentials:
        if violations := check_issue_request(request.account, request.purpose, request.duration_seconds):
            raise InvalidArgument.for_fields(violations)
        account = await self._directory.resolve(request.account)
        if account.spec.provider != "aws":
            raise FailedPrecondition(f"{account.name} is a {account.spec.provider!r} account; only aws issues "
                                     "credentials")
        access = await self._directory.access(account)
        try:
            issued = await issue(access, request.purpose, PURPOSES[request.purpose].policy(),
                                 request.duration_seconds or MAX_DURATION)
        except CannotIssue as error:
            raise FailedPrecondition(f"{account.name}: {error}", reason="CANNOT_ISSUE_CREDENTIALS") from None
        except AwsError as error:
            if error.code:  # AWS answered: refused, not a passing outage
                raise FailedPrecondition(f"{account.name}: {error}", reason="CANNOT_ISSUE_CREDENTIALS") from None
            raise Unavailable(f"{account.name}: {error}") from None
        expires = timestamp_pb2.Timestamp()
        expires.FromDatetime(issued.expires)
        return account_credentials_pb2.AccountCredentials(
            account=account.name, region=account.spec.default_region, endpoint_url=account.spec.endpoint_url,
            access_key_id=issued.access_key_id, secret_access_key=issued.secret_access_key,
            session_token=issued.session_token, expire_time=expires,
        )
