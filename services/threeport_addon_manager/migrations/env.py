"""Alembic environment of the addon-manager: all the logic is the runtime's shared helper."""

from threeport_addon_manager.store.tables import SCHEMA
from threeport_runtime.db.migrations import run_env

run_env(SCHEMA)
