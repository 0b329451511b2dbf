"""Alembic environment of workload-delivery: all the logic is the runtime's shared helper."""

from threeport_runtime.db.migrations import run_env
from threeport_workload_delivery.store.tables import SCHEMA

run_env(SCHEMA)
