"""Each replica's inbox: the keys other replicas' consumers received events for, sent to their owner.

A controller's change events reach whichever replica's consumer-group reader gets them; a key
the reader does not own (``membership``) is sent to the owner's inbox, the stream
``{prefix}{controller}:inbox:{member}``, which only that member reads (from its start: member ids
are new in every process). Entries carry key names only, as events do; the owner re-reads. An
entry also carries the work-queue priority the sender would have queued the key at, when it is
not the normal one (a created resource's ``NEW``), so routing does not change the queue's order.

Entries are not acknowledged: an inbox lives as long as its member. When a member dies with
entries unread, the survivors queue its whole share when they see it gone (the rebalance), and
the senders send again what they sent it lately (the controller keeps that record), so an event
is never lost with its inbox. Senders cap each inbox (``MAXLEN ~ 10000``) and make it expire
``2 * ttl`` after the last send, so a dead member's inbox does not stay behind. A read blocks
up to 5 s, so a quiet inbox costs one Redis command per 5 s.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

KeyReceived = Callable[[str, str, int], None]  # (key, traceparent of the event or "", queue priority)

_MAX_ENTRIES = 10_000


class Inboxes:
    """The inboxes of one controller's members: sending to any, reading this member's own."""

    def __init__(self, redis: Redis, *, prefix: str, member: str, ttl: float, block_ms: int = 5_000):
        self._redis = redis
        self._prefix = prefix
        self.member = member
        self._ttl_ms = int(ttl * 2000)
        self._block_ms = block_ms

    def stream(self, member: str) -> str:
        return f"{self._prefix}{member}"

    async def send(self, member: str, keys: Iterable[str], traceparent: str = "", priority: int = 0) -> None:
        """One round trip; raises RedisError/OSError when Redis is away (the caller keeps the keys)."""
        stream = self.stream(member)
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                fields = {"key": key}
                if traceparent:
                    fields["traceparent"] = traceparent
                if priority:
                    fields["priority"] = str(priority)
                pipe.xadd(stream, fields, maxlen=_MAX_ENTRIES, approximate=True)  # type: ignore[arg-type]
            pipe.pexpire(stream, self._ttl_ms)
            await pipe.execute()

    async def run(self, received: KeyReceived) -> None:
        """Reads this member's inbox until cancelled, then deletes it (best effort)."""
        stream = self.stream(self.member)
        last = "0-0"
        try:
            while True:
                try:
                    reply: Any = await self._redis.xread({stream: last}, count=500, block=self._block_ms)
                except (RedisError, OSError) as exc:
                    log.warning("inbox read failed; retrying", extra={"stream": stream, "error": str(exc)})
                    await asyncio.sleep(1.0)
                    continue
                for _, entries in reply or []:
                    for entry_id, fields in entries:
                        last = _text(entry_id)
                        key = fields.get(b"key", fields.get("key"))
                        if key is not None:
                            received(_text(key), _text(fields.get(b"traceparent", fields.get("traceparent", ""))),
                                     _priority(fields.get(b"priority", fields.get("priority", b"0"))))
        finally:
            try:
                async with asyncio.timeout(1.0):
                    await self._redis.delete(stream)
            except (RedisError, OSError, TimeoutError):
                pass


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _priority(value: bytes | str) -> int:
    """An entry's priority; a malformed one counts as the normal priority (an entry is never lost)."""
    try:
        return int(_text(value))
    except ValueError:
        return 0
