"""Live replicas of one controller in Redis, and which keys each owns (rendezvous hashing).

Every replica of a controller registers a member id in the sorted set
``{prefix}{controller}:members``, scored by the moment its registration expires on Redis's own
clock (so replicas' clocks need not agree). Every ``heartbeat`` seconds it pushes its expiry to
``now + ttl``, drops members whose expiry has passed and reads the rest: the live members. A
replica that stops cleanly removes itself at once; one that is killed drops out after ``ttl``.

Key ownership is rendezvous (highest-random-weight) hashing over the live members: a key belongs
to the member with the highest hash of (member, key). Every replica computes it locally from the
same member list, and a member that joins or leaves moves only its own share of the keys.

A full resync of every replica's share is requested through the counter
``{prefix}{controller}:resync``: a replica that re-created its lost consumer group increments it
(``request_resync``), and every replica whose heartbeat reads a different value than the last
resyncs its share, so every share is resynced even when only one replica's consumer noticed
the lost group (after Redis restarted empty, the others' reads may find the group already
re-created). A counter that vanished with its Redis reads as changed as well.

Redis trouble never leaves keys without an owner: until the first heartbeat answers, a replica
counts only itself (it owns every key, as a single replica does), and when a heartbeat fails or
is slow (bounded by ``heartbeat``) the last known members are kept until Redis answers again.
Heartbeats run in their own task; ownership checks never wait for Redis.

Each heartbeat also returns a fencing token from the controller's fence counter (the one
``lease.Leases`` draws from), read in the same script that reads the members, so tokens are
ordered with the views they came with. The script draws a new token (INCR) only when it must:
when the members differ from those stored with the last token it drew (``{members key}:view``,
shared by every replica), or when anything drew from the counter since (a lease, or a counter
lost with its Redis). Otherwise it returns the stored one, so a lone replica's idle heartbeat
writes nothing but its own expiry. Either way the token a heartbeat returns is the counter's
value when it ran: at least every token drawn before it, below every token drawn after it, and
equal only to the token of another heartbeat that read the same members with nothing drawn in
between, as the replicas with one view share one token (they agree on every key's owner, so no
two of them fence one key with it). That is all the orderings need: a token drawn after a member
joined or was dropped is higher than every token drawn with the view before, and a replica's
token is higher than every lease drawn before its last heartbeat (its own while its view was
unsettled, another replica's of one of its keys), as it was when every heartbeat drew. A
registration that lapsed (``beat``) needs no draw of its own: if another replica's heartbeat
saw it gone, the stored members differ; if none did, nobody acted on it. The
controller fences the reconciles of the keys it owns with it (``fence``) instead of a per-key
lease; see the controller's docstring for the orderings. ``settled`` says whether this view may
be trusted for that: it answered recently and has not changed for ``ttl`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

MembershipChanged = Callable[[tuple[str, ...], tuple[str, ...]], None]
ResyncRequested = Callable[[], None]

_HEARTBEAT = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[2]), ARGV[1])
-- A controller that no replica runs any more leaves nothing behind.
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
-- A fencing token ordered with this view (the lease script's counter, seeded the same way):
-- the token drawn with these members, unless they changed or the counter moved since.
redis.call('SET', KEYS[3], ARGV[3], 'NX')
local token = redis.call('GET', KEYS[3])
-- Sorted: ZRANGE orders them by expiry, which every heartbeat moves.
local sorted = {}
for i, member in ipairs(members) do sorted[i] = member end
table.sort(sorted)
local listed = table.concat(sorted, '\\n')
local view = redis.call('HMGET', KEYS[4], 'members', 'token')
if view[1] ~= listed or view[2] ~= token then
  redis.call('INCR', KEYS[3])
  -- The counter's own string, not INCR's reply (Lua formats big numbers as floats; see lease).
  token = redis.call('GET', KEYS[3])
  redis.call('HSET', KEYS[4], 'members', listed, 'token', token)
end
return {members, redis.call('GET', KEYS[2]) or '', token}
"""


def owner_of(key: str, members: tuple[str, ...]) -> str:
    """The member that owns ``key``: the highest hash of (member, key)."""
    return max(members, key=lambda member: _weight(member, key))


def _weight(member: str, key: str) -> int:
    digest = hashlib.blake2b(f"{member}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class Membership:
    """This replica's registration among the live members of one controller."""

    def __init__(
        self,
        redis: Redis,
        *,
        key: str,
        resync_key: str,
        fence_key: str,
        member: str,
        heartbeat: float = 5.0,
        ttl: float = 15.0,
        on_change: MembershipChanged | None = None,
        on_resync_requested: ResyncRequested | None = None,
    ):
        self._redis = redis
        self.key = key
        self.resync_key = resync_key
        self.fence_key = fence_key
        # The members the last drawn token came with, and that token (kept like the counter).
        self.view_key = f"{key}:view"
        self.member = member
        self.heartbeat = heartbeat
        self.ttl = ttl
        self._on_change = on_change
        self._on_resync_requested = on_resync_requested
        self._script: Any = redis.register_script(_HEARTBEAT)
        # Alone until Redis says otherwise: owning every key is safe (the lease serialises),
        # owning none would leave keys unreconciled.
        self.members: tuple[str, ...] = (member,)
        # The resync counter as last read; unknown until the first heartbeat answers.
        self._resync_epoch: bytes | None = None
        # The token drawn with the current view; None until a heartbeat answered.
        self.fence: int | None = None
        # Monotonic times: when the view last changed (start counts as a change: a predecessor
        # may still be registered), and when the last heartbeat that answered was sent.
        self._changed_at = time.monotonic()
        self._answered_at: float | None = None

    def owns(self, key: str) -> bool:
        if len(self.members) == 1:
            return self.members[0] == self.member
        return owner_of(key, self.members) == self.member

    def settled(self) -> bool:
        """Whether ``fence`` may fence the reconciles of owned keys without a lease: the last
        heartbeat answered within ``ttl`` (so this member was still registered and its view is
        at most that old) and the members have not changed for ``ttl`` (every live replica has
        seen the change by then, and finished deciding by the view before)."""
        if self.fence is None or self._answered_at is None:
            return False
        now = time.monotonic()
        return now - self._answered_at < self.ttl and now - self._changed_at >= self.ttl

    async def beat(self) -> bool:
        """One heartbeat; True when Redis answered and ``members`` is current."""
        sent = time.monotonic()
        seed = int(time.time() * 1_000_000)
        try:
            async with asyncio.timeout(self.heartbeat):
                reply = await self._script(
                    keys=[self.key, self.resync_key, self.fence_key, self.view_key],
                    args=[self.member, int(self.ttl * 1000), seed],
                )
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning(
                "membership heartbeat failed; keeping the last known members",
                extra={"members": len(self.members), "error": str(exc) or type(exc).__name__},
            )
            return False
        listed, epoch, fence = reply
        current = tuple(sorted(m.decode() if isinstance(m, bytes) else str(m) for m in listed))
        if self.member not in current:  # cannot happen after our ZADD, but never own nothing
            current = tuple(sorted((*current, self.member)))
        previous, self.members = self.members, current
        # No answer for ``ttl``: this member's registration may have lapsed, and the others may
        # have seen it leave and come back although its own view looks unchanged. It re-settles.
        lapsed = self._answered_at is not None and sent - self._answered_at >= self.ttl
        self.fence = int(fence)
        self._answered_at = sent
        if lapsed:
            self._changed_at = sent
        if current != previous:
            self._changed_at = sent
            log.info("controller members changed", extra={"members": len(current), "was": len(previous)})
            if self._on_change is not None:
                self._on_change(previous, current)
        epoch = epoch if isinstance(epoch, bytes) else str(epoch).encode()
        previous_epoch, self._resync_epoch = self._resync_epoch, epoch
        if previous_epoch is not None and epoch != previous_epoch:
            log.info("full resync requested", extra={"key": self.resync_key})
            if self._on_resync_requested is not None:
                self._on_resync_requested()
        return True

    async def request_resync(self) -> None:
        """Asks every replica (at its next heartbeat) to resync its share; this one already did.

        A heartbeat that read the counter just before this increment makes this replica resync
        once more: harmless."""
        try:
            async with asyncio.timeout(self.heartbeat):
                self._resync_epoch = str(await self._redis.incr(self.resync_key)).encode()
        except (RedisError, OSError, TimeoutError) as exc:
            # Redis went away again: when it returns empty, the counter's loss asks the same.
            log.warning("could not request a resync of every share", extra={"error": str(exc)})

    async def run(self) -> None:
        """Heartbeats until cancelled, then leaves so the others take over this share at once."""
        try:
            while True:
                await self.beat()
                await asyncio.sleep(self.heartbeat)
        finally:
            await self.leave()

    async def leave(self) -> None:
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            async with asyncio.timeout(1.0):
                await self._redis.zrem(self.key, self.member)

