"""Alembic history of the ``gateway`` schema; ``python -m threeport_api_gateway migrate`` applies it."""
