"""Encrypts chosen string fields inside a resource's JSON document before it is stored.

Paths are dotted and rooted at ``spec`` or ``status``; ``*`` matches every key of a map, e.g.
``status.outputs.secrets.*``. The associated data binds each value to its resource uid and
path, so ciphertexts cannot be swapped between rows or fields. ``SealedFieldStore`` rotates a
table's sealed fields to the current key (``python -m threeport_<service> reencrypt``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import select

from threeport_runtime.crypto import CIPHERTEXT_PREFIX, FieldCipher
from threeport_runtime.db.engine import Database


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


def key_id_of(value: str) -> str:
    """The key id a ciphertext names ('' for anything else)."""
    if not FieldCipher.is_ciphertext(value):
        return ""
    return value[len(CIPHERTEXT_PREFIX):].partition(":")[0]


class SealedFieldStore:
    """Key rotation (``threeport_runtime.reencrypt``) of the sealed fields of one resource table,
    for a service that stores resources with ``secret_paths``: every ciphertext under those paths
    is counted per key and re-encrypted with the current key, bound to the same uid and path."""

    def __init__(self, db: Database, cipher: FieldCipher, row_type: type[Any], paths: Sequence[str],
                 description: str):
        self._db = db
        self._cipher = cipher
        self._row_type = row_type
        self._paths = list(paths)
        self.description = description

    def _ciphertexts(self, row: Any) -> list[str]:
        found: list[str] = []
        document = {"spec": row.spec, "status": row.status}
        for pattern in self._paths:
            for container, key, _path in _matches(document, pattern.split("."), []):
                value = container[key]
                if isinstance(value, str) and FieldCipher.is_ciphertext(value):
                    found.append(value)
        return found

    async def key_usage(self) -> dict[str, int]:
        usage: Counter[str] = Counter()
        async with self._db.session() as session:
            for row in await session.scalars(select(self._row_type)):
                usage.update(key_id_of(value) for value in self._ciphertexts(row))
        return dict(usage)

    async def reencrypt_batch(self, limit: int) -> int:
        done = 0
        current = self._cipher.current_key_id
        async with self._db.session() as session, session.begin():
            rows = await session.scalars(select(self._row_type).with_for_update(skip_locked=True))
            for row in rows:
                if all(key_id_of(v) == current for v in self._ciphertexts(row)):
                    continue
                document = {"spec": json.loads(json.dumps(row.spec)), "status": json.loads(json.dumps(row.status))}
                uid = str(row.uid)

                def rotate(path: str, value: str, uid: str = uid) -> str:
                    nonlocal done
                    if not FieldCipher.is_ciphertext(value) or key_id_of(value) == current:
                        return value
                    done += 1
                    return self._cipher.rotate(value, f"{uid}:{path}")

                _transform(document, self._paths, rotate)
                row.spec, row.status = document["spec"], document["status"]
                if done >= limit:
                    break
        return done
