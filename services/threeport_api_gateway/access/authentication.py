"""Bearer-token authentication with a short-lived cache of successful verifications.

A presented ``tp_<uid>_<secret>`` is looked up by uid and checked against the stored scrypt
hash (in a worker thread: scrypt is slow on purpose and must not stall the event loop). The
result - principal, grants and the token's expiry - is cached for ``cache_seconds`` under a
digest of the token, so steady traffic costs a dictionary lookup. Expiry is re-checked on
every call. Revocations and role changes made through this gateway drop the affected entries
and end the affected open streams at once; other replicas notice within ``cache_seconds``.
Wrong secrets for a known token id are bounded per token (``WRONG_SECRET_*``): past the budget
the gateway refuses without hashing, except the token text that verified before on this replica
(remembered as a SHA-256 digest, so a guessing attacker cannot lock out the real holder).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from threeport_api_gateway.access.streams import OpenStreams
from threeport_api_gateway.domain import tokens
from threeport_api_gateway.domain.ratelimit import RateLimiter
from threeport_api_gateway.store.identities import IdentityStore
from threeport_runtime.errors import Unauthenticated
from threeport_runtime.rpc.identity import AUTHORIZATION, Caller, RoleGrant

log = logging.getLogger(__name__)

BEARER = "bearer "
_TOUCH_INTERVAL = 60.0
_MAX_ENTRIES = 50_000
# Wrong secrets presented for one token id: 10 at once, then one every 10 s (per replica).
WRONG_SECRET_RATE = 0.1
WRONG_SECRET_BURST = 10.0


@dataclass(frozen=True)
class _Entry:
    token_uid: uuid.UUID
    principal: str
    grants: tuple[RoleGrant, ...]
    expire_time: datetime | None
    cached_at: float


class TokenAuthenticator:
    def __init__(
        self,
        store: IdentityStore,
        *,
        cache_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._store = store
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._entries: dict[bytes, _Entry] = {}
        self._last_touch: dict[uuid.UUID, float] = {}
        self._background: set[asyncio.Task[None]] = set()
        self.streams = OpenStreams(self.recheck, recheck_seconds=cache_seconds)
        self._wrong_secrets = RateLimiter(WRONG_SECRET_RATE, WRONG_SECRET_BURST, clock=clock)
        self._known_good: dict[bytes, uuid.UUID] = {}

    async def __call__(self, metadata: Mapping[str, str]) -> Caller:
        text = _bearer(metadata)
        key = hashlib.sha256(text.encode()).digest()
        entry = self._entries.get(key)
        now = self._clock()
        if entry is None or now - entry.cached_at > self._cache_seconds:
            entry = await self._verify(text, now)
            if len(self._entries) >= _MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = entry
        if entry.expire_time is not None and entry.expire_time <= datetime.now(UTC):
            raise Unauthenticated(
                "the API token has expired; create a new one with `tptctl token create`",
                reason="TOKEN_EXPIRED",
            )
        self._touch(entry.token_uid, now)
        return Caller(principal=entry.principal, grants=entry.grants)

    def credential(self, metadata: Mapping[str, str]) -> tuple[uuid.UUID, datetime | None] | None:
        """The token uid and expiry behind an authenticated call's metadata (from the cache)."""
        try:
            key = hashlib.sha256(_bearer(metadata).encode()).digest()
        except Unauthenticated:
            return None
        entry = self._entries.get(key)
        return None if entry is None else (entry.token_uid, entry.expire_time)

    def is_known(self, metadata: Mapping[str, str]) -> bool:
        """True when the call's token verified before on this replica (checking it costs no hash)."""
        try:
            digest = hashlib.sha256(_bearer(metadata).encode()).digest()
        except Unauthenticated:
            return False
        return digest in self._known_good

    async def recheck(self, token_uid: uuid.UUID) -> Unauthenticated | None:
        """Why a token verified earlier is no longer valid (None if it still is); reads the
        token and principal records without hashing (open streams call this periodically)."""
        record = await self._store.token(token_uid)
        if record is None or record.deleting:
            return Unauthenticated("the API token was deleted; the stream ended", reason="TOKEN_REVOKED")
        if record.revoke_time is not None:
            return Unauthenticated(f"the API token {record.name} was revoked", reason="TOKEN_REVOKED")
        principal = await self._store.principal(record.principal)
        if principal is None or principal.deleting or principal.disabled:
            return Unauthenticated(f"{record.principal} is disabled or deleted; the stream ended")
        return None

    def forget_token(self, token_uid: uuid.UUID) -> None:
        """Drops cached verifications of a token (after revoke or delete) and ends its streams."""
        for key in [k for k, e in self._entries.items() if e.token_uid == token_uid]:
            self._entries.pop(key, None)
        for digest in [d for d, uid in self._known_good.items() if uid == token_uid]:
            self._known_good.pop(digest, None)
        self.streams.end_token(token_uid)

    def forget_principal(self, principal: str) -> None:
        """Drops cached identities of a principal (after its roles or state changed) and ends
        its open streams, which were authorized under the old roles."""
        for key in [k for k, e in self._entries.items() if e.principal == principal]:
            self._entries.pop(key, None)
        self.streams.end_principal(principal)

    async def close(self) -> None:
        for task in list(self._background):
            await task

    async def _verify(self, text: str, now: float) -> _Entry:
        try:
            presented = tokens.parse(text)
        except tokens.MalformedToken as error:
            raise Unauthenticated(str(error)) from None
        record = await self._store.token(presented.uid)
        unknown = Unauthenticated("the API token is not valid; check it or create a new one")
        if record is None or record.secret_hash is None or record.deleting:
            raise unknown
        # A token verified before on this replica needs no scrypt again (its record is still
        # re-read below). Guessing the secret of a known token id costs one scrypt per try, so
        # those tries are bounded per token; past the budget only the known-good token passes.
        digest = hashlib.sha256(text.encode()).digest()
        if self._known_good.get(digest) != record.uid:
            if self._wrong_secrets.wait(str(record.uid)) > 0:
                raise unknown
            if not await asyncio.to_thread(tokens.verify, presented.secret, record.secret_hash):
                self._wrong_secrets.acquire(str(record.uid))
                raise unknown
            if len(self._known_good) >= _MAX_ENTRIES:
                self._known_good.clear()
            self._known_good[digest] = record.uid
        if record.revoke_time is not None:
            raise Unauthenticated(f"the API token {record.name} was revoked", reason="TOKEN_REVOKED")
        principal = await self._store.principal(record.principal)
        if principal is None or principal.deleting:
            raise unknown
        if principal.disabled:
            raise Unauthenticated(f"{principal.name} is disabled; ask an operator to enable it")
        grants = await self._store.grants(principal.name)
        return _Entry(record.uid, principal.name, grants, record.expire_time, now)

    def _touch(self, token_uid: uuid.UUID, now: float) -> None:
        last = self._last_touch.get(token_uid)
        if last is not None and now - last < _TOUCH_INTERVAL:
            return
        self._last_touch[token_uid] = now
        task = asyncio.create_task(self._record_use(token_uid))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _record_use(self, token_uid: uuid.UUID) -> None:
        try:
            await self._store.touch_token(token_uid, datetime.now(UTC))
        except Exception:
            # Bookkeeping only: a failed write must not fail or slow down the call.
            log.warning("could not record the last use of a token", exc_info=True)


def _bearer(metadata: Mapping[str, str]) -> str:
    value = metadata.get(AUTHORIZATION, "").strip()
    if not value:
        raise Unauthenticated("no credentials: send 'authorization: Bearer tp_...' with an API token")
    if not value.lower().startswith(BEARER):
        raise Unauthenticated("the gateway accepts only 'authorization: Bearer <API token>'")
    return value[len(BEARER) :].strip()
