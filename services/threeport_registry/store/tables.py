"""The registry's schema and one table per resource type (standard columns from the runtime)."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from threeport_runtime.db.schema import ResourceRow, ServiceSchema

SCHEMA = ServiceSchema("registry")


class Base(DeclarativeBase):
    metadata = SCHEMA.metadata


class ApplicationRow(ResourceRow, Base):
    __tablename__ = "applications"


class EnvironmentRow(ResourceRow, Base):
    __tablename__ = "environments"


class ClusterProfileRow(ResourceRow, Base):
    __tablename__ = "cluster_profiles"


class ServiceClassRow(ResourceRow, Base):
    __tablename__ = "service_classes"


class AddonProfileRow(ResourceRow, Base):
    __tablename__ = "addon_profiles"


class BuildRow(ResourceRow, Base):
    __tablename__ = "builds"
