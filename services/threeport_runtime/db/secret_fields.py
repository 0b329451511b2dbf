"""Encrypts chosen string fields inside a resource's JSON document before it is stored.

Paths are dotted and rooted at ``spec`` or ``status``; ``*`` matches every key of a map, e.g.
``status.outputs.secrets.*``. The associated data binds each value to its resource uid and
path, so ciphertexts cannot be swapped between rows or fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from threeport_runtime.crypto import FieldCipher


def seal(document: dict[str, Any], paths: Sequence[str], cipher: FieldCipher, uid: str) -> None:
    """Encrypts the named fields of ``document`` in place (already-encrypted values are kept)."""

    def encrypt(path: str, value: str) -> str:
        return value if FieldCipher.is_ciphertext(value) else cipher.encrypt(value, f"{uid}:{path}")

    _transform(document, paths, encrypt)


def unseal(document: dict[str, Any], paths: Sequence[str], cipher: FieldCipher, uid: str) -> None:
    """Decrypts the named fields of ``document`` in place."""

    def decrypt(path: str, value: str) -> str:
        return cipher.decrypt(value, f"{uid}:{path}") if FieldCipher.is_ciphertext(value) else value

    _transform(document, paths, decrypt)


def _transform(document: dict[str, Any], paths: Sequence[str], change: Callable[[str, str], str]) -> None:
    for pattern in paths:
        for container, key, concrete_path in _matches(document, pattern.split("."), []):
            value = container[key]
            if isinstance(value, str) and value:
                container[key] = change(concrete_path, value)


def _matches(node: Any, parts: list[str], seen: list[str]) -> Iterator[tuple[dict[str, Any], str, str]]:
    if not isinstance(node, dict) or not parts:
        return
    head, rest = parts[0], parts[1:]
    keys = list(node) if head == "*" else [head] if head in node else []
    for key in keys:
        if rest:
            yield from _matches(node[key], rest, [*seen, key])
        else:
            yield node, key, ".".join([*seen, key])
