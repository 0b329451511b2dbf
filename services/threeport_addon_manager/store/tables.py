"""The ``addons`` schema: the addon catalog, addon claims and addon installations."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from threeport_runtime.db.schema import ResourceRow, ServiceSchema

SCHEMA = ServiceSchema("addons")


class Base(DeclarativeBase):
    metadata = SCHEMA.metadata


class AddonRow(ResourceRow, Base):
    __tablename__ = "addons"


class AddonClaimRow(ResourceRow, Base):
    __tablename__ = "addon_claims"


class AddonInstallationRow(ResourceRow, Base):
    __tablename__ = "addon_installations"
