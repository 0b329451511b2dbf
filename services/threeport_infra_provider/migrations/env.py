"""Alembic environment of the infra-provider: all the logic is the runtime's shared helper."""

from threeport_infra_provider.store.tables import SCHEMA
from threeport_runtime.db.migrations import run_env

run_env(SCHEMA)
