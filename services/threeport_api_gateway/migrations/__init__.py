"""Alembic history of the ``gateway`` schema; ``python -m threeport_api_gateway migrate`` applies it."""

from pathlib import Path

MIGRATIONS_DIR = Path(__file__).parent
