"""Alembic environment of the cluster-manager: all the logic is the runtime's shared helper."""

from threeport_cluster_manager.store.tables import SCHEMA
from threeport_runtime.db.migrations import run_env

run_env(SCHEMA)
