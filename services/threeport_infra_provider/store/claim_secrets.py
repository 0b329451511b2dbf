"""Key rotation of the secret outputs kept (encrypted, field by field) in ServiceClaim rows:
each ciphertext names its key, and is bound to the claim's uid and field path."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select

from threeport_infra_provider.store.tables import ServiceClaimRow
from threeport_runtime.crypto import FieldCipher
from threeport_runtime.db.engine import Database

PREFIX = "status.outputs.secrets"


def _secrets(row: ServiceClaimRow) -> dict[str, Any]:
    found = ((row.status or {}).get("outputs") or {}).get("secrets") or {}
    return found if isinstance(found, dict) else {}


def _key_id(value: Any) -> str:
    return value.split(":")[2] if isinstance(value, str) and FieldCipher.is_ciphertext(value) else ""


class ClaimOutputSecrets:
    def __init__(self, db: Database, cipher: FieldCipher):
        self._db = db
        self._cipher = cipher

    @property
    def description(self) -> str:
        return "service claims' secret outputs"

    async def key_usage(self) -> dict[str, int]:
        usage: Counter[str] = Counter()
        async with self._db.session() as session:
            for row in await session.scalars(select(ServiceClaimRow)):
                usage.update(k for k in map(_key_id, _secrets(row).values()) if k)
        return dict(usage)

    async def reencrypt_batch(self, limit: int) -> int:
        current = self._cipher.current_key_id
        done = 0
        async with self._db.session() as session, session.begin():
            for row in await session.scalars(select(ServiceClaimRow).with_for_update(skip_locked=True)):
                secrets = _secrets(row)
                stale = {k: v for k, v in secrets.items() if _key_id(v) not in ("", current)}
                if not stale:
                    continue
                rotated = {k: self._cipher.rotate(v, f"{row.uid}:{PREFIX}.{k}") for k, v in stale.items()}
                status = dict(row.status)
                outputs = dict(status.get("outputs") or {})
                outputs["secrets"] = secrets | rotated
                status["outputs"] = outputs
                row.status = status
                done += len(rotated)
                if done >= limit:
                    break
        return done
