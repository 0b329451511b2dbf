"""Alembic environment of the ``gateway`` schema (see threeport_runtime.db.migrations)."""

from threeport_api_gateway.store.tables import SCHEMA
from threeport_runtime.db.migrations import run_env

run_env(SCHEMA)
