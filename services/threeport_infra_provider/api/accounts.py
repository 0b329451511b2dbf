"""AccountService: accounts are verified with STS GetCallerIdentity before anything is stored;
their credentials are sealed apart from the resource (never returned, logged or put in
events); deletion is refused while a service, claim or cluster uses the account."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from threeport.infra.v1alpha1 import account_pb2, account_pb2_grpc
from threeport_infra_provider.cloud.accounts import AccountDirectory, access_from
from threeport_infra_provider.cloud.aws import AwsError
from threeport_infra_provider.domain.accounts import carries_credentials, check_account, stored_spec
from threeport_infra_provider.domain.names import check_id
from threeport_infra_provider.store.repositories import Accounts, Claims, ClusterInfras, ManagedServices
from threeport_infra_provider.store.sealed import SealedSecrets
from threeport_runtime.errors import FailedPrecondition
from threeport_runtime.reconcile.status import mark_ready
from threeport_runtime.rpc.standard_methods import StandardMethods

MAX_NAMED_USERS = 10


class AccountServicer(account_pb2_grpc.AccountServiceServicer):
    def __init__(
        self,
        directory: AccountDirectory,
        methods: StandardMethods[account_pb2.Account],
        sealed: SealedSecrets,
        users: tuple[ManagedServices, Claims, ClusterInfras],
    ):
        self._directory = directory
        self._accounts: Accounts = directory.accounts
        self._methods = methods
        self._sealed = sealed
        self._users = users

    async def _verify(self, spec: account_pb2.AccountSpec, secrets: dict[str, str]) -> tuple[str, str]:
        try:
            return await access_from(spec, secrets, self._directory.timeout).identity()
        except AwsError as error:
            raise FailedPrecondition(
                f"the account could not be verified, nothing was stored: {error}", reason="ACCOUNT_NOT_VERIFIED"
            ) from None

    async def CreateAccount(self, request: account_pb2.CreateAccountRequest, context: Any) -> account_pb2.Account:
        check_id("account_id", request.account_id)
        check_account(request.account, credentials_required=True)
        account_id, arn = await self._verify(request.account.spec, _secrets(request.account.spec.aws))
        wanted = account_pb2.Account()
        wanted.CopyFrom(request.account)
        wanted.spec.CopyFrom(stored_spec(request.account.spec))
        created = await self._accounts.create(
            wanted,
            name=f"accounts/{request.account_id}",
            request_id=request.request_id,
            validate_only=request.validate_only,
        )
        if request.validate_only:
            return created
        await self._sealed.put(created.name, created.uid, _secrets(request.account.spec.aws))
        return await self._verified(created, account_id, arn)

    async def _verified(self, account: account_pb2.Account, account_id: str, arn: str) -> account_pb2.Account:
        def mutate(stored: account_pb2.Account) -> None:
            stored.status.account_id = account_id
            stored.status.caller_arn = arn
            stored.status.has_credentials = True
            stored.status.verify_time.GetCurrentTime()
            mark_ready(stored, ready=True, reason="Verified", message=f"credentials resolve to {arn}")

        updated = await self._accounts.update_status(account.name, mutate)
        if account.spec.default:
            await self._clear_other_defaults(account.name)
        return updated or account

    async def _clear_other_defaults(self, keep: str) -> None:
        page, _ = await self._accounts.list(page_size=1000)
        for other in page:
            if other.name != keep and other.spec.default:
                other.spec.default = False
                await self._accounts.update(other, ["spec.default"])

    async def GetAccount(self, request: Any, context: Any) -> account_pb2.Account:
        return await self._methods.get(request)

    async def ListAccounts(self, request: Any, context: Any) -> Any:
        return await self._methods.list(request, account_pb2.ListAccountsResponse)

    async def UpdateAccount(self, request: account_pb2.UpdateAccountRequest, context: Any) -> account_pb2.Account:
        current = await self._accounts.find(request.account.name)
        new_credentials = carries_credentials(request.account.spec.aws)
        check_account_update = current is None or new_credentials
        paths = list(request.update_mask.paths)
        incoming = account_pb2.Account()
        incoming.CopyFrom(request.account)
        incoming.spec.CopyFrom(stored_spec(request.account.spec))
        if current is not None and not new_credentials and (not paths or "spec" in paths):
            # Keep how the account authenticates when the update does not say it again.
            incoming.spec.aws.CopyFrom(current.spec.aws)

        def validate(updated: account_pb2.Account) -> None:
            probe = account_pb2.Account()
            probe.CopyFrom(updated)
            probe.spec.aws.CopyFrom(request.account.spec.aws if new_credentials else updated.spec.aws)
            check_account(probe, credentials_required=check_account_update)

        secrets = _secrets(request.account.spec.aws) if new_credentials else None
        merged = await self._accounts.update(
            incoming, paths, allow_missing=request.allow_missing, validate_only=True, validate=validate
        )
        if secrets is None:
            stored = await self._sealed.get(merged.name, merged.uid) if current is not None else None
            if stored is None:
                raise FailedPrecondition(f"{merged.name} has no stored credentials: give them with this update")
            secrets = stored
        account_id, arn = await self._verify(merged.spec, secrets)
        if request.validate_only:
            return merged
        updated = await self._accounts.update(incoming, paths, allow_missing=request.allow_missing, validate=validate)
        await self._sealed.put(updated.name, updated.uid, secrets)
        return await self._verified(updated, account_id, arn)

    async def DeleteAccount(self, request: account_pb2.DeleteAccountRequest, context: Any) -> account_pb2.Account:
        if not request.force:
            users = await self.users_of(request.name)
            if users:
                shown = ", ".join(users[:MAX_NAMED_USERS]) + (" ..." if len(users) > MAX_NAMED_USERS else "")
                raise FailedPrecondition(
                    f"account {request.name!r} is used by {len(users)} resource(s): {shown}; "
                    "delete those first or pass force",
                    reason="RESOURCE_IN_USE",
                    metadata={"resource": request.name},
                )
        deleted = await self._methods.delete(request)
        if not request.validate_only:
            # Accounts hold no finalizer: the row is gone, so its credentials go with it.
            await self._sealed.delete(request.name)
        return deleted

    async def users_of(self, account: str) -> list[str]:
        names: list[str] = []
        for repository in self._users:
            page, _ = await repository.list(filter_text=f'spec.account = "{account}"', page_size=1000)
            names += [resource.name for resource in page]
        return names

    async def WatchAccounts(self, request: Any, context: Any) -> AsyncIterator[Any]:
        async for response in self._methods.watch(request, account_pb2.WatchAccountsResponse):
            yield response


def _secrets(aws: account_pb2.AwsCredentials) -> dict[str, str]:
    values = {
        "access_key_id": aws.access_key_id,
        "secret_access_key": aws.secret_access_key,
        "session_token": aws.session_token,
    }
    return {k: v for k, v in values.items() if v}
