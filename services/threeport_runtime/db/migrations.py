"""Alembic plumbing shared by every service: one environment per service, its version table
in the service's own schema, and a programmatic ``upgrade`` for ``python -m ... migrate``.

A service's ``migrations/env.py`` is two lines::

    from threeport_runtime.db.migrations import run_env
    from threeport_registry.store.tables import SCHEMA
    run_env(SCHEMA)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import create_engine, pool, text

from threeport_runtime.db.schema import ServiceSchema

VERSION_TABLE = "alembic_version"


def alembic_config(migrations_dir: Path, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    # configparser treats % as interpolation; URLs may contain percent-escapes.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(migrations_dir: Path, database_url: str, revision: str = "head") -> None:
    """Runs the service's migrations up to ``revision`` (blocking; call via a thread in async code)."""
    command.upgrade(alembic_config(migrations_dir, database_url), revision)


def run_env(schema: ServiceSchema) -> None:
    """The body of a service's ``env.py``, online and offline."""
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("sqlalchemy.url is not set; run migrations through `python -m threeport_<service> migrate`")
    options: dict[str, Any] = {
        "target_metadata": schema.metadata,
        "version_table_schema": schema.name,
        "version_table": VERSION_TABLE,
        "include_schemas": True,
        "include_name": lambda name, kind, _parents: kind != "schema" or name == schema.name,
    }
    if context.is_offline_mode():
        context.configure(url=url, literal_binds=True, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    # Migrations use the synchronous psycopg driver: Alembic's API is synchronous.
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema.name}"'))
        connection.commit()
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
