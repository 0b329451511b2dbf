"""Alembic migrations of the ``registry`` schema (``python -m threeport_registry migrate``)."""
