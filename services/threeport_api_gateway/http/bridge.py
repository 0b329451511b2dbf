"""The trust between a gateway's HTTP listener and its own gRPC server.

HTTP calls are made to the gateway's gRPC server over loopback, so they pass the very same
access check (authentication, authorization, rate limits, audit) and error mapping as gRPC
calls. Only the peer address would be lost: the listener sends the HTTP client's address with a
secret generated per process, and the access check believes that address only next to the
secret. Anyone else sending the header is recorded with their real address.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping

SECRET_HEADER = "x-threeport-http-bridge"
PEER_HEADER = "x-threeport-http-peer"


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def peer(metadata: Mapping[str, str], grpc_peer: str, secret: str) -> str:
    """The address to audit: the HTTP client's when the listener vouches for it."""
    sent = metadata.get(SECRET_HEADER, "")
    if secret and sent and hmac.compare_digest(sent.encode(), secret.encode()):
        return f"http:{metadata.get(PEER_HEADER, '')}"
    return grpc_peer


def headers(secret: str, http_peer: str) -> tuple[tuple[str, str], ...]:
    return ((SECRET_HEADER, secret), (PEER_HEADER, http_peer))
