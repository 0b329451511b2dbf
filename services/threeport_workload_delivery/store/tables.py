"""The ``delivery`` schema: deployments, app secrets and registry credentials (standard resource
rows; the secret values sealed field by field) and releases.

Releases are immutable records, not reconciled resources, so they get a narrow table of their
own: the public Release message as JSON plus the private snapshot needed to render the release
again (the application spec it was made from), its content fingerprint, and the change id of
the action that asked for it (what makes actions idempotent across crashes).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Index, Text, UniqueConstraint, Uuid, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from threeport_runtime.db.schema import ResourceRow, ServiceSchema

SCHEMA = ServiceSchema("delivery")


class Base(DeclarativeBase):
    metadata = SCHEMA.metadata


class DeploymentRow(ResourceRow, Base):
    __tablename__ = "deployments"
    # The deployments of an application (``spec.application = "A"``), read for every change
    # event of an application or a build; the key is named literally so this index serves it
    # (migration 0005).
    __table_args__ = (Index("ix_deployments_spec_application", text("(spec ->> 'application')")),)


class SecretRow(ResourceRow, Base):
    """An app secret; ``spec.value`` is sealed (runtime ``secret_fields``) before it is stored."""

    __tablename__ = "secrets"


class RegistryCredentialRow(ResourceRow, Base):
    """A registry login; ``spec.password`` is sealed before it is stored."""

    __tablename__ = "registry_credentials"


class ReleaseRow(Base):
    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("deployment", "number"),)

    uid: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    # The deployment's resource name; releases go when it goes.
    deployment: Mapped[str] = mapped_column(Text, index=True)
    # The uid of the deployment incarnation: a deployment re-created under the same name
    # starts again from release 1.
    deployment_uid: Mapped[str] = mapped_column(Text)
    number: Mapped[int] = mapped_column(BigInteger)
    create_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The public Release message (proto JSON).
    message: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # What the release was rendered from: {"application": <spec JSON>, "namespace": ...}.
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONB)
    fingerprint: Mapped[str] = mapped_column(Text)
    change_id: Mapped[str] = mapped_column(Text, default="")


class NamespaceClaimRow(Base):
    """Which deployment owns a namespace in a cluster: one owner per (cluster, namespace), taken
    before anything is applied and released once the namespace is gone (``store.namespaces``)."""

    __tablename__ = "namespace_claims"

    cluster: Mapped[str] = mapped_column(Text, primary_key=True)
    namespace: Mapped[str] = mapped_column(Text, primary_key=True)
    project: Mapped[str] = mapped_column(Text)
    # The owning deployment's resource name.
    deployment: Mapped[str] = mapped_column(Text, index=True)
    create_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
