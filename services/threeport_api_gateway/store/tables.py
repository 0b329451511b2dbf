"""Tables of the ``gateway`` schema.

Projects, principals, tokens and role bindings are standard resource rows (DESIGN §3). Tokens
add the salted hash of their secret, which never leaves this table. Audit entries are an
append-only log; their name sorts by time, so name order is chronological order.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Index, Integer, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from threeport_runtime.db.schema import ResourceRow, ServiceSchema

SCHEMA = ServiceSchema("gateway")


class Base(DeclarativeBase):
    metadata = SCHEMA.metadata


class ProjectRow(ResourceRow, Base):
    __tablename__ = "projects"


class PrincipalRow(ResourceRow, Base):
    __tablename__ = "principals"


class TokenRow(ResourceRow, Base):
    __tablename__ = "tokens"

    # scrypt$n$r$p$salt$hash of the secret; NULL only between insert and hashing, and a token
    # without a hash is refused.
    secret_hash: Mapped[str | None] = mapped_column(Text, default=None)
    last_used_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class RoleBindingRow(ResourceRow, Base):
    __tablename__ = "role_bindings"
    __table_args__ = (
        # Authentication loads a principal's grants on every cache miss.
        Index("ix_role_bindings_spec_principal", text("(spec ->> 'principal')")),
        Index("ix_role_bindings_spec_project", text("(spec ->> 'project')")),
    )


class AuditRow(Base):
    __tablename__ = "audit_entries"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    principal: Mapped[str] = mapped_column(Text, index=True)
    method: Mapped[str] = mapped_column(Text)
    resource: Mapped[str] = mapped_column(Text)
    project: Mapped[str] = mapped_column(Text, index=True)
    allowed: Mapped[bool] = mapped_column(Boolean)
    code: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    trace_id: Mapped[str] = mapped_column(Text)
    peer: Mapped[str] = mapped_column(Text)
    count: Mapped[int] = mapped_column(BigInteger, server_default="1")


class BootstrapRow(Base):
    """One row once the first administrator has been created, so restarts do not create another."""

    __tablename__ = "bootstrap"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    principal: Mapped[str] = mapped_column(Text)
    completed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
