"""Open server streams (Watch) per token, ended as soon as their credential stops being valid.

A watch is authorized once, when it opens, and may then run for hours. Without this, a revoked
or expired token would keep receiving changes. Each open stream is registered under its token:

- revoking or deleting the token, disabling or deleting its principal, or changing its role
  bindings through this gateway ends the stream at once (``end_token`` / ``end_principal``);
- the token's expiry ends it at that moment;
- a watchdog re-checks the token's record every ``recheck_seconds`` (no hashing: the secret was
  verified when the stream opened), so changes made through another replica end it too.

Ending means cancelling the call's task; the access check then answers UNAUTHENTICATED
with the reason (``TOKEN_REVOKED``, ``TOKEN_EXPIRED`` or ``UNAUTHENTICATED``).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Protocol

from threeport_runtime.errors import Unauthenticated

log = logging.getLogger(__name__)

Recheck = Callable[[uuid.UUID], Awaitable[Unauthenticated | None]]


class CachedCredentials(Protocol):
    """What the access check asks of the authenticator besides authenticating: the open
    streams, the token behind a call verified recently, and whether a call's token verified
    before (then checking it again costs no hashing). ``TokenAuthenticator`` provides them."""

    streams: OpenStreams

    def credential(self, metadata: Mapping[str, str]) -> tuple[uuid.UUID, datetime | None] | None: ...

    def is_known(self, metadata: Mapping[str, str]) -> bool: ...


class OpenStream:
    """One open stream: the task serving it and why it was ended (None while it runs)."""

    def __init__(self, token_uid: uuid.UUID, principal: str, task: asyncio.Task[object]):
        self.token_uid = token_uid
        self.principal = principal
        self.task = task
        self.ended_by: Unauthenticated | None = None
        self.watchdog: asyncio.Task[None] | None = None

    def end(self, reason: Unauthenticated) -> None:
        if self.ended_by is None and not self.task.done():
            self.ended_by = reason
            self.task.cancel()


class OpenStreams:
    def __init__(self, recheck: Recheck, *, recheck_seconds: float = 5.0):
        self._recheck = recheck
        self._recheck_seconds = max(recheck_seconds, 0.5)
        self._streams: set[OpenStream] = set()

    def open(self, token_uid: uuid.UUID, principal: str, expire_time: datetime | None) -> OpenStream:
        """Registers the stream served by the current task; call ``close`` when it ends."""
        task = asyncio.current_task()
        assert task is not None, "streams are served inside a task"
        stream = OpenStream(token_uid, principal, task)
        self._streams.add(stream)
        stream.watchdog = asyncio.create_task(self._watch(stream, expire_time), name="stream credential watchdog")
        return stream

    def close(self, stream: OpenStream) -> None:
        self._streams.discard(stream)
        if stream.watchdog is not None:
            stream.watchdog.cancel()

    def end_token(self, token_uid: uuid.UUID) -> None:
        for stream in [s for s in self._streams if s.token_uid == token_uid]:
            stream.end(Unauthenticated("the API token was revoked or deleted; the stream ended",
                                       reason="TOKEN_REVOKED"))

    def end_principal(self, principal: str) -> None:
        for stream in [s for s in self._streams if s.principal == principal]:
            stream.end(Unauthenticated(f"the roles or state of {principal} changed; the stream ended, "
                                       "open it again"))

    async def _watch(self, stream: OpenStream, expire_time: datetime | None) -> None:
        try:
            while not stream.task.done():
                wait = self._recheck_seconds
                if expire_time is not None:
                    until_expiry = (expire_time - datetime.now(UTC)).total_seconds()
                    if until_expiry <= 0:
                        stream.end(Unauthenticated("the API token has expired; the stream ended",
                                                   reason="TOKEN_EXPIRED"))
                        return
                    wait = min(wait, until_expiry)
                await asyncio.sleep(wait)
                if expire_time is not None and expire_time <= datetime.now(UTC):
                    continue  # the top of the loop ends it
                refused = await self._recheck(stream.token_uid)
                if refused is not None:
                    stream.end(refused)
                    return
        except asyncio.CancelledError:
            raise
        except Exception:
            # A failed re-check (database briefly down) must not end a valid stream; try again.
            log.warning("could not re-check a stream's token", exc_info=True)
            if not stream.task.done():
                stream.watchdog = asyncio.create_task(self._watch(stream, expire_time))
