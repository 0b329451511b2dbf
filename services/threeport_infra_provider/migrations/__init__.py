"""Alembic migrations of the ``infra`` schema."""
