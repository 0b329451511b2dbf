"""AES-GCM encryption of individual field values, with key ids and rotation.

A ciphertext is the text ``enc:v1:<key id>:<base64(nonce || ciphertext || tag)>``, so it fits in
text and JSON columns and names the key that decrypts it. The first configured key encrypts;
all keys decrypt, so a new key can be put first and old rows re-encrypted at leisure.
Associated data (for example the resource uid and field path) binds a value to its place, so a
ciphertext copied to another row or field does not decrypt.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from threeport_runtime.config import EncryptionKey

CIPHERTEXT_PREFIX = "enc:v1:"
_NONCE_BYTES = 12


class DecryptionError(Exception):
    """A value could not be decrypted: unknown key id, wrong associated data or tampering."""


class FieldCipher:
    """Encrypts with the current key and decrypts with any known key."""

    def __init__(self, keys: Sequence[EncryptionKey]):
        if not keys:
            raise ValueError("at least one encryption key is needed (THREEPORT_ENCRYPTION_KEYS)")
        self._current = keys[0]
        self._aeads = {key.key_id: AESGCM(key.secret) for key in keys}

    @property
    def current_key_id(self) -> str:
        return self._current.key_id

    def encrypt(self, plaintext: str, associated_data: str = "") -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aeads[self._current.key_id].encrypt(
            nonce, plaintext.encode("utf-8"), associated_data.encode("utf-8")
        )
        encoded = base64.b64encode(nonce + sealed).decode("ascii")
        return f"{CIPHERTEXT_PREFIX}{self._current.key_id}:{encoded}"

    def decrypt(self, ciphertext: str, associated_data: str = "") -> str:
        key_id, blob = self._split(ciphertext)
        aead = self._aeads.get(key_id)
        if aead is None:
            raise DecryptionError(f"value was encrypted with key {key_id!r}, which is not configured")
        raw = base64.b64decode(blob)
        try:
            plain = aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], associated_data.encode("utf-8"))
        except InvalidTag:
            raise DecryptionError("value does not decrypt: tampered, moved or wrong key") from None
        return plain.decode("utf-8")

    def needs_rotation(self, ciphertext: str) -> bool:
        """True when the value was not encrypted with the current key."""
        return self._split(ciphertext)[0] != self._current.key_id

    def rotate(self, ciphertext: str, associated_data: str = "") -> str:
        """Re-encrypts with the current key (a no-op when already current)."""
        if not self.needs_rotation(ciphertext):
            return ciphertext
        return self.encrypt(self.decrypt(ciphertext, associated_data), associated_data)

    @staticmethod
    def is_ciphertext(value: str) -> bool:
        return value.startswith(CIPHERTEXT_PREFIX)

    @staticmethod
    def _split(ciphertext: str) -> tuple[str, str]:
        if not ciphertext.startswith(CIPHERTEXT_PREFIX):
            raise DecryptionError("value is not a Threeport ciphertext")
        key_id, sep, blob = ciphertext[len(CIPHERTEXT_PREFIX) :].partition(":")
        if not sep:
            raise DecryptionError("ciphertext has no key id")
        return key_id, blob
