"""Seeds the system-default profiles and classes (``domain/defaults.py``) at start."""

from __future__ import annotations

from typing import Any

from threeport_runtime.db.repository import ResourceRepository
from threeport_runtime.errors import AlreadyExists, NotFound


async def seed_system_defaults(repository: ResourceRepository[Any, Any], defaults: list[Any]) -> None:
    """Creates the built-in resources that are missing. Replicas may race: the loser's create
    fails with AlreadyExists, which is the outcome wanted."""
    for default in defaults:
        try:
            await repository.get(default.name)
            continue
        except NotFound:
            pass
        try:
            await repository.create(default, name=default.name)
        except AlreadyExists:
            continue

        def mark(stored: Any) -> None:
            stored.status.system_default = True

        await repository.update_status(default.name, mark)
