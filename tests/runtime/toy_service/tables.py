"""The toy service's schema and its one resource table."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from threeport_runtime.db.schema import ResourceRow, ServiceSchema

SCHEMA = ServiceSchema("toy")


class Base(DeclarativeBase):
    metadata = SCHEMA.metadata


class ApplicationRow(ResourceRow, Base):
    __tablename__ = "applications"
