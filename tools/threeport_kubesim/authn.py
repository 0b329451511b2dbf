"""Webhook token authentication, as kube-apiserver's ``--authentication-token-webhook-config-file``:
a bearer token that is not the cluster's own is sent to the webhook as an
``authentication.k8s.io/v1`` TokenReview, and accepted when the answer says ``authenticated``.

This is how a cluster trusts tokens minted elsewhere, e.g. EKS tokens (presigned STS URLs) that
an aws-iam-authenticator-style webhook verifies. Answers are cached (positive for
``cache_seconds``, as the API server's default of two minutes); a webhook that cannot be reached
or answers garbage authenticates nobody.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from typing import Any

DEFAULT_CACHE_SECONDS = 120.0
TIMEOUT_SECONDS = 10.0


class TokenWebhook:
    def __init__(self, url: str, cache_seconds: float = DEFAULT_CACHE_SECONDS) -> None:
        self.url = url
        self._cache_seconds = cache_seconds
        self._accepted: dict[str, float] = {}

    async def authenticate(self, token: str) -> bool:
        now = time.monotonic()
        until = self._accepted.get(token)
        if until is not None and until > now:
            return True
        if not await asyncio.to_thread(self._review, token):
            return False
        self._accepted = {t: u for t, u in self._accepted.items() if u > now}
        self._accepted[token] = now + self._cache_seconds
        return True

    def _review(self, token: str) -> bool:
        review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
        request = urllib.request.Request(
            self.url, data=json.dumps(review).encode(), headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                answer: Any = json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError):
            return False
        status = answer.get("status") if isinstance(answer, dict) else None
        return isinstance(status, dict) and status.get("authenticated") is True
