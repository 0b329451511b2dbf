"""Key rotation that finishes: re-encrypts a service's stored secrets with the current key.

``THREEPORT_ENCRYPTION_KEYS`` lists keys, the first encrypting and all decrypting, so a new key
can be put first at any time. New writes then use it, but values written before keep their old
key until something re-encrypts them - and until then the old key cannot be removed.
``python -m threeport_<service> reencrypt`` does that:

- it re-encrypts every value not under the current key, a small batch per transaction with the
  rows locked (``FOR UPDATE SKIP LOCKED``), so it runs online next to the serving replicas;
- it is resumable: values already under the current key are skipped, so an interrupted run is
  simply run again;
- it ends by reporting how many values each key still protects, and names every configured key
  that no value uses any more, which can then be removed from ``THREEPORT_ENCRYPTION_KEYS``.

Why a command rather than an RPC: the keys are in the service's own environment, the values in
its own schema; a command run with the same settings (as a job next to the deployment) needs no
new API surface, no credential that could trigger it remotely, and no gateway route.

A service lists what it encrypts with ``ServiceDefinition.encrypted_stores``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import func, select

from threeport_runtime.crypto import FieldCipher
from threeport_runtime.db.engine import Database


class EncryptedStore(Protocol):
    """Something a service stores encrypted (a table, or fields of a resource)."""

    @property
    def description(self) -> str: ...

    async def key_usage(self) -> dict[str, int]:
        """How many stored values each key id protects."""
        ...

    async def reencrypt_batch(self, limit: int) -> int:
        """Re-encrypts up to ``limit`` values not under the current key; returns how many."""
        ...


@dataclass(frozen=True)
class Report:
    reencrypted: int
    usage: dict[str, int]
    unused_keys: list[str]


async def reencrypt(
    stores: Sequence[EncryptedStore],
    cipher: FieldCipher,
    configured_keys: Sequence[str],
    *,
    batch_size: int = 100,
    progress: Callable[[str], None] = lambda _line: None,
) -> Report:
    total = 0
    for store in stores:
        done = 0
        while (count := await store.reencrypt_batch(batch_size)) > 0:
            done += count
            progress(f"{store.description}: {done} value(s) re-encrypted with key {cipher.current_key_id!r}")
        total += done
    usage: dict[str, int] = {}
    for store in stores:
        for key_id, count in (await store.key_usage()).items():
            usage[key_id] = usage.get(key_id, 0) + count
    unused = [key for key in configured_keys if key != cipher.current_key_id and not usage.get(key)]
    return Report(total, usage, unused)


async def key_usage_of(db: Database, key_id_column: Any) -> dict[str, int]:
    """How many rows of a table with one ciphertext per row (and its ``key_id`` column) each key
    protects; for a store's ``key_usage``."""
    async with db.session() as session:
        rows = await session.execute(select(key_id_column, func.count()).group_by(key_id_column))
        return {key_id: count for key_id, count in rows.all()}


async def reencrypt_rows(
    db: Database,
    cipher: FieldCipher,
    row_type: Any,
    limit: int,
    associated_data: Callable[[Any], str],
) -> int:
    """Re-encrypts up to ``limit`` rows whose ``secret`` is not under the current key (rows
    another replica is rotating are skipped); for a store's ``reencrypt_batch``."""
    current = cipher.current_key_id
    async with db.session() as session, session.begin():
        rows = (
            await session.scalars(
                select(row_type).where(row_type.key_id != current).limit(limit).with_for_update(skip_locked=True)
            )
        ).all()
        for row in rows:
            row.secret = cipher.rotate(row.secret, associated_data(row))
            row.key_id = current
        return len(rows)
