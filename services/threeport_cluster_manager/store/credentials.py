"""Encrypted storage of cluster connections (never returned by Get/List; DESIGN §6).

Each row is bound to the cluster's uid through the AES-GCM associated data, so a row copied
onto another cluster does not decrypt, and a stale row left by a deleted cluster of the same
name is ignored.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert

from threeport_cluster_manager.store.tables import CredentialsRow
from threeport_runtime.crypto import FieldCipher
from threeport_runtime.db.engine import Database
from threeport_runtime.kube.connection import Connection
from threeport_runtime.reencrypt import key_usage_of, reencrypt_rows


class CredentialStore:
    def __init__(self, db: Database, cipher: FieldCipher):
        self._db = db
        self._cipher = cipher

    @staticmethod
    def _associated_data(cluster_uid: str) -> str:
        return f"clusters/{cluster_uid}:credentials"

    async def put(self, cluster: str, cluster_uid: str, connection: Connection) -> None:
        secret = self._cipher.encrypt(connection.to_secret_json(), self._associated_data(cluster_uid))
        values = {
            "cluster": cluster,
            "cluster_uid": uuid.UUID(cluster_uid),
            "server": connection.server,
            "insecure_skip_tls_verify": connection.insecure_skip_tls_verify,
            "secret": secret,
            "key_id": self._cipher.current_key_id,
            "update_time": datetime.now(UTC),
        }
        statement = insert(CredentialsRow).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=[CredentialsRow.cluster],
            set_={k: v for k, v in values.items() if k != "cluster"},
        )
        async with self._db.session() as session, session.begin():
            await session.execute(statement)

    async def get(self, cluster: str, cluster_uid: str) -> Connection | None:
        async with self._db.session() as session:
            row = await session.scalar(select(CredentialsRow).where(CredentialsRow.cluster == cluster))
        if row is None or str(row.cluster_uid) != cluster_uid:
            return None
        secret = self._cipher.decrypt(row.secret, self._associated_data(cluster_uid))
        return Connection.from_secret_json(row.server, row.insecure_skip_tls_verify, secret)

    async def delete(self, cluster: str) -> None:
        async with self._db.session() as session, session.begin():
            await session.execute(delete(CredentialsRow).where(CredentialsRow.cluster == cluster))

    # -- key rotation (threeport_runtime.reencrypt) ----------------------------------------------

    @property
    def description(self) -> str:
        return "cluster credentials"

    async def key_usage(self) -> dict[str, int]:
        return await key_usage_of(self._db, CredentialsRow.key_id)

    async def reencrypt_batch(self, limit: int) -> int:
        return await reencrypt_rows(
            self._db, self._cipher, CredentialsRow, limit, lambda row: self._associated_data(str(row.cluster_uid))
        )
