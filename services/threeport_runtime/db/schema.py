"""The tables every service has: its schema, naming conventions, resource rows, outbox, events.

A service declares ``SCHEMA = ServiceSchema("registry")`` and ``class Base(DeclarativeBase):
metadata = SCHEMA.metadata``; each resource table is ``class ApplicationRow(ResourceRow, Base)``
with ``__tablename__`` set. The outbox and events tables live in the same schema, so the
service's Alembic history creates them too.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class ServiceSchema:
    """The Postgres schema a service owns, with the runtime's own tables already declared."""

    def __init__(self, name: str):
        if not name.isidentifier() or name.lower() != name:
            raise ValueError(f"schema name must be a lowercase identifier, got {name!r}")
        self.name = name
        self.metadata = MetaData(schema=name, naming_convention=NAMING_CONVENTION)
        self.outbox = Table(
            "outbox",
            self.metadata,
            Column("id", BigInteger, Identity(), primary_key=True),
            Column("stream", Text, nullable=False),
            Column("resource", Text, nullable=False),
            Column("payload", LargeBinary, nullable=False),
            Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        )
        self.events = Table(
            "events",
            self.metadata,
            Column("id", BigInteger, Identity(), primary_key=True),
            Column("resource", Text, nullable=False),
            Column("resource_uid", Text, nullable=False),
            Column("type", Text, nullable=False),
            Column("reason", Text, nullable=False),
            Column("message", Text, nullable=False),
            Column("source", Text, nullable=False),
            Column("generation", BigInteger, nullable=False),
            # Folding repeated events needs a short unique key; messages can be long.
            Column("fingerprint", Text, nullable=False, unique=True),
            Column("count", Integer, nullable=False),
            Column("first_time", DateTime(timezone=True), nullable=False),
            Column("last_time", DateTime(timezone=True), nullable=False),
            Index(None, "resource", "last_time"),
        )

    @property
    def outbox_channel(self) -> str:
        """The NOTIFY channel that wakes this service's outbox relays."""
        return f"threeport_outbox_{self.name}"


class ResourceRow:
    """Declarative mixin with the standard resource columns; ``spec``/``status`` are JSONB."""

    uid: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    parent: Mapped[str] = mapped_column(Text, index=True)
    labels: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict)
    annotations: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict)
    create_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    update_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delete_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    etag: Mapped[str] = mapped_column(Text)
    generation: Mapped[int] = mapped_column(BigInteger)
    reconciling: Mapped[bool] = mapped_column(Boolean)
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    state: Mapped[str] = mapped_column(Text)
    spec: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    status: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    finalizers: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    # Idempotent create: a retried request with the same id finds the row it created.
    request_id: Mapped[str | None] = mapped_column(Text, unique=True)
    # The highest lease fencing token that wrote status; older lease holders are refused.
    status_fence: Mapped[int] = mapped_column(BigInteger, default=0)
