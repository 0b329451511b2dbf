"""Alembic migrations of the ``clusters`` schema."""
