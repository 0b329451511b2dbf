"""Encrypted storage of a resource's secrets (DESIGN §6): account credentials and the
passwords generated for managed services. Never part of a resource, so never returned."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert

from threeport_infra_provider.store.tables import SealedSecretRow
from threeport_runtime.crypto import FieldCipher
from threeport_runtime.db.engine import Database
from threeport_runtime.reencrypt import key_usage_of, reencrypt_rows


class SealedSecrets:
    def __init__(self, db: Database, cipher: FieldCipher):
        self._db = db
        self._cipher = cipher

    @staticmethod
    def _associated_data(owner: str, owner_uid: str) -> str:
        return f"{owner}/{owner_uid}:secrets"

    async def put(self, owner: str, owner_uid: str, values: dict[str, str]) -> None:
        secret = self._cipher.encrypt(json.dumps(values, sort_keys=True), self._associated_data(owner, owner_uid))
        row = {
            "owner": owner,
            "owner_uid": uuid.UUID(owner_uid),
            "secret": secret,
            "key_id": self._cipher.current_key_id,
            "update_time": datetime.now(UTC),
        }
        statement = insert(SealedSecretRow).values(**row)
        statement = statement.on_conflict_do_update(
            index_elements=[SealedSecretRow.owner], set_={k: v for k, v in row.items() if k != "owner"}
        )
        async with self._db.session() as session, session.begin():
            await session.execute(statement)

    async def get(self, owner: str, owner_uid: str) -> dict[str, str] | None:
        """The secrets of ``owner``, or None when none are stored for this incarnation of it."""
        async with self._db.session() as session:
            row = await session.scalar(select(SealedSecretRow).where(SealedSecretRow.owner == owner))
        if row is None or str(row.owner_uid) != owner_uid:
            return None
        values = json.loads(self._cipher.decrypt(row.secret, self._associated_data(owner, owner_uid)))
        return {str(k): str(v) for k, v in values.items()}

    async def delete(self, owner: str) -> None:
        async with self._db.session() as session, session.begin():
            await session.execute(delete(SealedSecretRow).where(SealedSecretRow.owner == owner))

    # -- key rotation (threeport_runtime.reencrypt) ----------------------------------------------

    @property
    def description(self) -> str:
        return "account credentials and generated passwords"

    async def key_usage(self) -> dict[str, int]:
        return await key_usage_of(self._db, SealedSecretRow.key_id)

    async def reencrypt_batch(self, limit: int) -> int:
        return await reencrypt_rows(
            self._db,
            self._cipher,
            SealedSecretRow,
            limit,
            lambda row: self._associated_data(row.owner, str(row.owner_uid)),
        )
