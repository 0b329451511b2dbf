"""Turns an Account (and its sealed credentials) into ``AwsAccess``, and finds the account a
claim or a cluster means (its own, or the default one)."""

from __future__ import annotations

from threeport.infra.v1alpha1 import account_pb2
from threeport_infra_provider.cloud.aws import AwsAccess
from threeport_infra_provider.store.repositories import Accounts
from threeport_infra_provider.store.sealed import SealedSecrets
from threeport_runtime.errors import FailedPrecondition, NotFound


def access_from(spec: account_pb2.AccountSpec, secrets: dict[str, str], timeout: float) -> AwsAccess:
    return AwsAccess(
        region=spec.default_region,
        endpoint_url=spec.endpoint_url,
        access_key_id=secrets.get("access_key_id", ""),
        secret_access_key=secrets.get("secret_access_key", ""),
        session_token=secrets.get("session_token", ""),
        role_arn=spec.aws.role_arn,
        external_id=spec.aws.external_id,
        timeout=timeout,
    )


class AccountDirectory:
    def __init__(self, accounts: Accounts, sealed: SealedSecrets, timeout: float):
        self.accounts = accounts
        self._sealed = sealed
        self.timeout = timeout

    async def resolve(self, name: str) -> account_pb2.Account:
        """The named account, or the default one for ''; FailedPrecondition saying what to do."""
        if name:
            try:
                found = await self.accounts.get(name)
            except NotFound:
                raise FailedPrecondition(f"account {name!r} does not exist; add it with `tptctl account add`") from None
            if found.HasField("delete_time"):
                raise FailedPrecondition(f"account {name!r} is being deleted")
            return found
        defaults = [a for a in await self._all() if a.spec.default and not a.HasField("delete_time")]
        if not defaults:
            raise FailedPrecondition(
                "no account named and no default account: add one with `tptctl account add aws NAME --default`"
            )
        return defaults[0]

    async def access(self, account: account_pb2.Account) -> AwsAccess:
        secrets = await self._sealed.get(account.name, account.uid)
        if secrets is None:
            raise FailedPrecondition(f"{account.name} has no stored credentials; add the account again")
        return access_from(account.spec, secrets, self.timeout)

    async def _all(self) -> list[account_pb2.Account]:
        found: list[account_pb2.Account] = []
        token = ""
        while True:
            page, token = await self.accounts.list(page_size=1000, page_token=token)
            found += page
            if not token:
                return found
