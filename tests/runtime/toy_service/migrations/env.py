"""Alembic environment of the toy service: all the logic is the runtime's shared helper."""

from tests.runtime.toy_service.tables import SCHEMA
from threeport_runtime.db.migrations import run_env

run_env(SCHEMA)
