"""Alembic environment of the registry: all the logic is the runtime's shared helper."""

from threeport_registry.store.tables import SCHEMA
from threeport_runtime.db.migrations import run_env

run_env(SCHEMA)
