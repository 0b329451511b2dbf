"""API token format, generation and verification.

A token is ``tp_<lookup>_<secret>``: ``lookup`` is the token's uid in hex, so the gateway finds
the one row to check without scanning, and ``secret`` is 32 random bytes (base64url). Only a
salted scrypt hash of the secret is stored, as ``scrypt$<n>$<r>$<p>$<salt>$<hash>``; the
parameters travel with the hash so they can be raised later without breaking old tokens.
Verification compares in constant time. scrypt is deliberately slow (tens of milliseconds);
the gateway caches successful verifications briefly so the cost is paid once per token, not
once per call.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass

TOKEN_PREFIX = "tp_"
_SECRET_BYTES = 32
_SALT_BYTES = 16
# 2**14 with r=8 costs ~16 MiB and tens of milliseconds: slow for guessing, fine once per token.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_HASH_BYTES = 32
_TOKEN_PATTERN = re.compile(r"^tp_(?P<lookup>[0-9a-f]{32})_(?P<secret>[A-Za-z0-9_-]{43})$")


class MalformedToken(ValueError):
    """The presented string is not a Threeport API token."""


@dataclass(frozen=True)
class IssuedToken:
    """A freshly generated token: the text shown once, and what is stored instead of it."""

    text: str
    secret_hash: str
    display_prefix: str


@dataclass(frozen=True)
class PresentedToken:
    """A token as presented by a caller, split into its lookup id and secret."""

    uid: uuid.UUID
    secret: str


def issue(token_uid: uuid.UUID) -> IssuedToken:
    """Generates the secret of the token with uid ``token_uid``."""
    secret = base64.urlsafe_b64encode(secrets.token_bytes(_SECRET_BYTES)).decode().rstrip("=")
    text = f"{TOKEN_PREFIX}{token_uid.hex}_{secret}"
    return IssuedToken(text=text, secret_hash=hash_secret(secret), display_prefix=display_prefix(token_uid))


def display_prefix(token_uid: uuid.UUID) -> str:
    """What people see to recognise a token (``tp_1a2b3c4d``); it reveals nothing of the secret."""
    return f"{TOKEN_PREFIX}{token_uid.hex[:8]}"


def parse(text: str) -> PresentedToken:
    """Splits a presented token; raises MalformedToken for anything else."""
    match = _TOKEN_PATTERN.match(text.strip())
    if match is None:
        raise MalformedToken("the bearer token is not a Threeport API token (tp_...)")
    return PresentedToken(uid=uuid.UUID(hex=match["lookup"]), secret=match["secret"])


def hash_secret(secret: str, *, salt: bytes | None = None) -> str:
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    digest = hashlib.scrypt(
        secret.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=_HASH_BYTES, maxmem=64 << 20
    )
    return "$".join(["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)])


def verify(secret: str, stored: str) -> bool:
    """True when ``secret`` hashes to ``stored``; False for any malformed stored value."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, expected = _unb64(parts[4]), _unb64(parts[5])
        digest = hashlib.scrypt(secret.encode(), salt=salt, n=n, r=r, p=p, dklen=len(expected), maxmem=128 << 20)
    except ValueError:
        return False
    return hmac.compare_digest(digest, expected)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)
