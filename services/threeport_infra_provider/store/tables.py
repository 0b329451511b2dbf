"""The ``infra`` schema: accounts, managed services, service claims, cluster infrastructure, and
the sealed secrets (account credentials, generated passwords) kept apart from the resources so
that no Get or List can ever return them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Text, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from threeport_runtime.db.schema import ResourceRow, ServiceSchema

SCHEMA = ServiceSchema("infra")


class Base(DeclarativeBase):
    metadata = SCHEMA.metadata


class AccountRow(ResourceRow, Base):
    __tablename__ = "accounts"


class ManagedServiceRow(ResourceRow, Base):
    __tablename__ = "managed_services"


class ServiceClaimRow(ResourceRow, Base):
    __tablename__ = "service_claims"


class ClusterInfraRow(ResourceRow, Base):
    __tablename__ = "cluster_infras"


class SealedSecretRow(Base):
    """One AES-GCM ciphertext (a JSON object of secret strings) belonging to one resource,
    bound to the resource's uid through the associated data: a row copied to another resource,
    or left behind by a deleted one of the same name, does not decrypt."""

    __tablename__ = "sealed_secrets"

    owner: Mapped[str] = mapped_column(Text, primary_key=True)
    owner_uid: Mapped[uuid.UUID] = mapped_column(Uuid)
    secret: Mapped[str] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(Text)
    update_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
