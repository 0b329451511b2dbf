"""Per-key leases in Redis with fencing tokens, so replicas never reconcile one key at once.

A lease is a key with a TTL holding ``owner:token``. It is renewed while the reconcile runs; a
replica that dies stops renewing and loses the lease when the TTL runs out. Tokens come from a
counter that only grows; it is seeded from the clock when missing, so tokens still grow after
Redis lost its data. Status writes carry the token (see ``db.fencing``) and older tokens are
refused.

Tokens travel as decimal strings end to end (Redis keeps the counter as one): a token must read
back exactly as written, or renew and release would never recognise the lease.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from redis.asyncio import Redis

_ACQUIRE = """
local current = redis.call('GET', KEYS[1])
if current and string.sub(current, 1, string.len(ARGV[1]) + 1) ~= ARGV[1] .. ':' then
  return nil
end
redis.call('SET', KEYS[2], ARGV[3], 'NX')
redis.call('INCR', KEYS[2])
-- The counter's own string, not INCR's reply: Lua numbers are doubles that `..` formats with
-- %.14g, which turns a 16-digit token into 1.7961538741763e+15 and renew/release never match.
local token = redis.call('GET', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. token, 'PX', ARGV[2])
return token
"""

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class Leases:
    """Leases of one controller; ``owner`` identifies this replica."""

    def __init__(self, redis: Redis, *, namespace: str, ttl: float = 15.0, owner: str | None = None):
        self._redis = redis
        self._namespace = namespace
        self.ttl = ttl
        self.owner = owner or uuid.uuid4().hex
        self._acquire: Any = redis.register_script(_ACQUIRE)
        self._renew: Any = redis.register_script(_RENEW)
        self._release: Any = redis.register_script(_RELEASE)

    @property
    def fence_key(self) -> str:
        """The counter tokens come from (membership draws its tokens from it too)."""
        return f"{self._namespace}fence"

    def _key(self, key: str) -> str:
        return f"{self._namespace}lease:{key}"

    async def acquire(self, key: str) -> int | None:
        """The fencing token if this replica now holds the lease, None if another does."""
        seed = int(time.time() * 1_000_000)
        token = await self._acquire(
            keys=[self._key(key), self.fence_key], args=[self.owner, int(self.ttl * 1000), seed]
        )
        return None if token is None else int(token)

    async def renew(self, key: str, token: int) -> bool:
        """Extends the lease; False when it was lost (expired and taken, or Redis lost it)."""
        return bool(await self._renew(keys=[self._key(key)], args=[f"{self.owner}:{token}", int(self.ttl * 1000)]))

    async def release(self, key: str, token: int) -> None:
        await self._release(keys=[self._key(key)], args=[f"{self.owner}:{token}"])
