"""Opaque, tamper-evident keyset page tokens bound to the query that issued them.

A token carries the last name of the previous page and a fingerprint of the query (parent,
filter, options); both are signed with HMAC-SHA256. A token edited by hand, or replayed against
a different query, is INVALID_ARGUMENT with reason INVALID_PAGE_TOKEN.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json

from threeport_runtime.errors import FieldViolation, InvalidArgument

_SIGNATURE_BYTES = 16


class PageTokenCodec:
    def __init__(self, secret: bytes):
        if len(secret) < 16:
            raise ValueError("page token secret must have at least 16 bytes")
        self._secret = secret

    @staticmethod
    def fingerprint(*query_parts: object) -> str:
        """A short digest of everything that defines the query."""
        return hashlib.sha256(json.dumps(query_parts, sort_keys=True).encode()).hexdigest()[:16]

    def encode(self, last_key: str, fingerprint: str) -> str:
        body = json.dumps({"k": last_key, "q": fingerprint}, separators=(",", ":")).encode()
        signature = hmac.new(self._secret, body, hashlib.sha256).digest()[:_SIGNATURE_BYTES]
        return base64.urlsafe_b64encode(signature + body).decode().rstrip("=")

    def decode(self, token: str, fingerprint: str) -> str:
        """The last key of the previous page; raises InvalidArgument when the token is not ours."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise _invalid("is malformed") from None
        signature, body = raw[:_SIGNATURE_BYTES], raw[_SIGNATURE_BYTES:]
        expected = hmac.new(self._secret, body, hashlib.sha256).digest()[:_SIGNATURE_BYTES]
        if not hmac.compare_digest(signature, expected):
            raise _invalid("is malformed or was altered")
        payload = json.loads(body)
        if payload.get("q") != fingerprint:
            raise _invalid("was issued for a different query; keep parent and filter unchanged while paging")
        last_key: str = payload["k"]
        return last_key


def _invalid(problem: str) -> InvalidArgument:
    description = f"the page token {problem}; start again with an empty page_token"
    return InvalidArgument(
        f"invalid page_token: {description}",
        [FieldViolation("page_token", description)],
        reason="INVALID_PAGE_TOKEN",
    )
