"""TokenService: API tokens. ``CreateToken`` returns the secret once; only its hash is kept.

The token row is written first (its uid becomes the token's lookup id), then the hash. Until the
hash is in place the token cannot authenticate, so a crash in between leaves a harmless,
unusable token rather than a usable one without a record.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from threeport.gateway.v1alpha1 import token_pb2, token_pb2_grpc
from threeport_api_gateway.access.authentication import TokenAuthenticator
from threeport_api_gateway.api.readiness import settle
from threeport_api_gateway.domain import tokens
from threeport_api_gateway.domain.names import check_id, check_name
from threeport_api_gateway.store.identities import IdentityStore
from threeport_api_gateway.store.repositories import Repositories
from threeport_runtime.errors import FieldViolation, InvalidArgument

Context = Any
_DESCRIPTION_LIMIT = 500
# Longer lifetimes are mistakes (and past year 9999 no timestamp can hold them).
MAX_LIFETIME = timedelta(days=3650)


class TokenIssuer:
    """Creates tokens (for CreateToken and for the bootstrap administrator)."""

    def __init__(self, repositories: Repositories, identities: IdentityStore):
        self._repos = repositories
        self._identities = identities

    async def issue(
        self,
        principal: str,
        token_id: str,
        *,
        description: str = "",
        expire_time: datetime | None = None,
    ) -> tuple[token_pb2.Token, str]:
        """The stored token and the secret text to show once."""
        await self._repos.principals.get(principal)  # NOT_FOUND names the missing principal.
        token = token_pb2.Token(spec=token_pb2.TokenSpec(description=description))
        if expire_time is not None:
            token.spec.expire_time.FromDatetime(expire_time)
        created = await self._repos.tokens.create(token, name=f"{principal}/tokens/{token_id}")
        issued = tokens.issue(uuid.UUID(created.uid))
        await self._identities.set_secret_hash(uuid.UUID(created.uid), issued.secret_hash)
        return await present(self._identities, await settle(self._repos.tokens, created)), issued.text


class TokenService(token_pb2_grpc.TokenServiceServicer):
    def __init__(
        self,
        repositories: Repositories,
        identities: IdentityStore,
        authenticator: TokenAuthenticator,
    ):
        self._repos = repositories
        self._tokens = repositories.tokens
        self._identities = identities
        self._issuer = TokenIssuer(repositories, identities)
        self._authenticator = authenticator

    async def CreateToken(
        self, request: token_pb2.CreateTokenRequest, context: Context
    ) -> token_pb2.CreateTokenResponse:
        token_id = request.token_id or f"t-{secrets.token_hex(4)}"
        violations = check_name("parent", request.parent, "principals") + check_id("token_id", token_id)
        if len(request.token.spec.description) > _DESCRIPTION_LIMIT:
            violations.append(
                FieldViolation("token.spec.description", f"must be at most {_DESCRIPTION_LIMIT} characters")
            )
        now = datetime.now(UTC)
        expire_time: datetime | None = None
        if request.HasField("ttl"):
            ttl_seconds = request.ttl.seconds + request.ttl.nanos / 1e9
            if request.token.spec.HasField("expire_time"):
                violations.append(FieldViolation("ttl", "give either ttl or token.spec.expire_time, not both"))
            elif ttl_seconds <= 0:
                violations.append(FieldViolation("ttl", "must be positive, e.g. 720h"))
            elif ttl_seconds > MAX_LIFETIME.total_seconds():
                violations.append(FieldViolation("ttl", f"must be at most {MAX_LIFETIME.days}d (10 years)"))
            else:
                expire_time = now + timedelta(seconds=ttl_seconds)
        elif request.token.spec.HasField("expire_time"):
            stamp = request.token.spec.expire_time
            if stamp.seconds > (now + MAX_LIFETIME).timestamp():
                violations.append(
                    FieldViolation("token.spec.expire_time", f"must be at most {MAX_LIFETIME.days} days ahead")
                )
            else:
                expire_time = stamp.ToDatetime(tzinfo=UTC)
                if expire_time <= now:
                    violations.append(FieldViolation("token.spec.expire_time", "must be in the future"))
        if violations:
            raise InvalidArgument.for_fields(violations)
        token, secret = await self._issuer.issue(
            request.parent, token_id, description=request.token.spec.description, expire_time=expire_time
        )
        return token_pb2.CreateTokenResponse(token=token, secret=secret)

    async def GetToken(self, request: token_pb2.GetTokenRequest, context: Context) -> token_pb2.Token:
        return await present(self._identities, await self._tokens.get(request.name))

    async def ListTokens(self, request: token_pb2.ListTokensRequest, context: Context) -> token_pb2.ListTokensResponse:
        found, next_token = await self._tokens.list(
            parent=request.parent,
            page_size=request.page_size,
            page_token=request.page_token,
            filter_text=request.filter,
            hide_deleting=request.hide_deleting,
        )
        return token_pb2.ListTokensResponse(
            tokens=await present_all(self._identities, found), next_page_token=next_token
        )

    async def RevokeToken(self, request: token_pb2.RevokeTokenRequest, context: Context) -> token_pb2.Token:
        current = await self._tokens.get(request.name)
        if not current.spec.HasField("revoke_time"):
            change = token_pb2.Token(name=current.name)
            change.spec.revoke_time.GetCurrentTime()
            current = await settle(self._tokens, await self._tokens.update(change, ["spec.revoke_time"]))
        self._authenticator.forget_token(uuid.UUID(current.uid))
        return await present(self._identities, current)

    async def DeleteToken(self, request: token_pb2.DeleteTokenRequest, context: Context) -> token_pb2.Token:
        deleted = await self._tokens.delete(
            request.name,
            etag=request.etag,
            allow_missing=request.allow_missing,
            validate_only=request.validate_only,
        )
        if deleted.uid and not request.validate_only:
            self._authenticator.forget_token(uuid.UUID(deleted.uid))
        return await present(self._identities, deleted) if deleted.uid else deleted


async def present(identities: IdentityStore, token: token_pb2.Token) -> token_pb2.Token:
    return (await present_all(identities, [token]))[0]


async def present_all(identities: IdentityStore, found: list[token_pb2.Token]) -> list[token_pb2.Token]:
    """Fills the output-only fields kept outside ``spec``: the display prefix and last use."""
    uids = [uuid.UUID(t.uid) for t in found if t.uid]
    used = await identities.last_used(uids)
    for token in found:
        if not token.uid:
            continue
        uid = uuid.UUID(token.uid)
        token.spec.prefix = tokens.display_prefix(uid)
        if uid in used:
            token.spec.last_used_time.FromDatetime(used[uid])
    return found
