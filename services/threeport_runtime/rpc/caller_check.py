"""The backends' access concern: who is calling, and may they call this method.

The caller is authenticated from the call's metadata (``Authenticator``: the service credential,
with the user the gateway forwards), the method's policy is enforced, and the caller is exposed
as ``current_caller`` for the duration of the call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from threeport_runtime.rpc.authorization import authorize, method_policy
from threeport_runtime.rpc.identity import Authenticator, current_caller
from threeport_runtime.rpc.interceptors import Guard


class CallerCheck:
    def __init__(self, authenticate: Authenticator, *, enforce_policies: bool = True):
        self._authenticate = authenticate
        self._enforce_policies = enforce_policies

    def around(self, method: str) -> Guard:
        """What runs around every call of ``method`` (looked up once per method)."""
        policy = method_policy(method)
        name = method.lstrip("/")

        @asynccontextmanager
        async def check(request: Any, _context: Any, metadata: Mapping[str, str]) -> AsyncIterator[None]:
            who = await self._authenticate(metadata)
            if self._enforce_policies:
                authorize(who, policy, request, name)
            token = current_caller.set(who)
            try:
                yield
            finally:
                current_caller.reset(token)

        return check
