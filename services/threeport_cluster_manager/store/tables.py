"""The ``clusters`` schema: clusters, cluster claims (and their bindings), and cluster credentials
(encrypted)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Index, Text, Uuid, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from threeport_runtime.db.schema import ResourceRow, ServiceSchema

SCHEMA = ServiceSchema("clusters")


class Base(DeclarativeBase):
    metadata = SCHEMA.metadata


class ClusterRow(ResourceRow, Base):
    __tablename__ = "clusters"


class ClusterClaimRow(ResourceRow, Base):
    __tablename__ = "cluster_claims"
    # The claims bound to a cluster (``status.cluster = "C"``), read on every cluster pass;
    # filters name the key literally so that this index serves them (migration 0002).
    __table_args__ = (Index("ix_cluster_claims_status_cluster", text("(status ->> 'cluster')")),)


class ClaimBindingRow(Base):
    """The cluster and requests of one claim that is bound and not being deleted: what placement
    sums per cluster (``store.placement``), without reading every claim's JSON. Written only by
    triggers on ``cluster_claims`` (migration 0003), in the transaction that changes the claim."""

    __tablename__ = "claim_bindings"
    __table_args__ = (Index("ix_claim_bindings_cluster_bind_time", "cluster", "bind_time"),)

    claim: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    cluster: Mapped[str] = mapped_column(Text)
    cpu_millis: Mapped[int] = mapped_column(BigInteger)
    memory_bytes: Mapped[int] = mapped_column(BigInteger)
    # None for a claim bound before bindings recorded their time.
    bind_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CredentialsRow(Base):
    """How to reach one cluster's API server. ``secret`` is one AES-GCM ciphertext of the CA,
    token and client certificate/key, bound to the cluster's uid; the server URL is not secret
    and stays readable for operators looking at the table."""

    __tablename__ = "cluster_credentials"

    cluster: Mapped[str] = mapped_column(Text, primary_key=True)
    cluster_uid: Mapped[uuid.UUID] = mapped_column(Uuid)
    server: Mapped[str] = mapped_column(Text)
    insecure_skip_tls_verify: Mapped[bool] = mapped_column(Boolean, default=False)
    secret: Mapped[str] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(Text)
    update_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
