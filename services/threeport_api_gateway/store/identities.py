"""The reads authentication needs: a token by uid, its principal, the principal's grants.

These bypass the resource repositories on purpose: they read the secret hash (which the
repositories never expose) and run on every cache miss, so they fetch only what is needed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import select, update

from threeport.common.v1alpha1 import annotations_pb2
from threeport_api_gateway.store.tables import PrincipalRow, RoleBindingRow, TokenRow
from threeport_runtime.db.engine import Database
from threeport_runtime.rpc.identity import RoleGrant


@dataclass(frozen=True)
class TokenRecord:
    uid: uuid.UUID
    name: str
    principal: str
    secret_hash: str | None
    expire_time: datetime | None
    revoke_time: datetime | None
    deleting: bool


@dataclass(frozen=True)
class PrincipalRecord:
    name: str
    disabled: bool
    deleting: bool


class IdentityStore:
    def __init__(self, db: Database):
        self._db = db

    async def token(self, uid: uuid.UUID) -> TokenRecord | None:
        async with self._db.session() as session:
            row = await session.scalar(select(TokenRow).where(TokenRow.uid == uid))
        if row is None:
            return None
        return TokenRecord(
            uid=row.uid,
            name=row.name,
            principal=row.parent,
            secret_hash=row.secret_hash,
            expire_time=_time(row.spec.get("expire_time")),
            revoke_time=_time(row.spec.get("revoke_time")),
            deleting=row.delete_time is not None,
        )

    async def principal(self, name: str) -> PrincipalRecord | None:
        async with self._db.session() as session:
            row = await session.scalar(select(PrincipalRow).where(PrincipalRow.name == name))
        if row is None:
            return None
        return PrincipalRecord(
            name=row.name,
            disabled=bool(row.spec.get("disabled", False)),
            deleting=row.delete_time is not None,
        )

    async def grants(self, principal: str) -> tuple[RoleGrant, ...]:
        async with self._db.session() as session:
            specs = (
                await session.scalars(
                    select(RoleBindingRow.spec).where(
                        RoleBindingRow.spec["principal"].astext == principal,
                        RoleBindingRow.delete_time.is_(None),
                    )
                )
            ).all()
        grants = {grant_from_spec(spec) for spec in specs}
        return tuple(sorted((g for g in grants if g is not None), key=str))

    async def set_secret_hash(self, uid: uuid.UUID, secret_hash: str) -> None:
        async with self._db.session() as session, session.begin():
            await session.execute(update(TokenRow).where(TokenRow.uid == uid).values(secret_hash=secret_hash))

    async def adopt_token(self, uid: uuid.UUID, preset_uid: uuid.UUID, secret_hash: str) -> None:
        """Gives a just-created token the lookup id and secret of a preset token text (the
        bootstrap token an installer generated), so that exactly that text authenticates."""
        async with self._db.session() as session, session.begin():
            await session.execute(
                update(TokenRow).where(TokenRow.uid == uid).values(uid=preset_uid, secret_hash=secret_hash)
            )

    async def touch_token(self, uid: uuid.UUID, when: datetime) -> None:
        """Records a use; kept out of ``spec`` so that it changes neither etag nor generation."""
        async with self._db.session() as session, session.begin():
            await session.execute(update(TokenRow).where(TokenRow.uid == uid).values(last_used_time=when))

    async def last_used(self, uids: list[uuid.UUID]) -> dict[uuid.UUID, datetime]:
        if not uids:
            return {}
        async with self._db.session() as session:
            rows = (
                await session.execute(
                    select(TokenRow.uid, TokenRow.last_used_time).where(
                        TokenRow.uid.in_(uids), TokenRow.last_used_time.is_not(None)
                    )
                )
            ).all()
        return {uid: when for uid, when in rows if when is not None}


def grant_from_spec(spec: dict[str, object]) -> RoleGrant | None:
    """The grant a RoleBinding's stored spec gives; None for a binding without a valid role."""
    role_name = str(spec.get("role", ""))
    try:
        role = annotations_pb2.Role.Value(role_name)
    except ValueError:
        return None
    if role == annotations_pb2.ROLE_OPERATOR:
        return RoleGrant(role, "")
    project = str(spec.get("project", ""))
    if role not in (annotations_pb2.ROLE_VIEWER, annotations_pb2.ROLE_DEPLOYER, annotations_pb2.ROLE_ADMIN):
        return None
    return RoleGrant(role, project) if project else None


def _time(value: object) -> datetime | None:
    """A timestamp stored in proto JSON form (``2030-01-01T00:00:00Z``)."""
    if not isinstance(value, str) or not value:
        return None
    stamp = Timestamp()
    stamp.FromJsonString(value)
    return stamp.ToDatetime(tzinfo=UTC)
