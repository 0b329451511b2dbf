"""The newest build per component that an environment's auto-deploy rules matched.

One query (``DISTINCT ON`` the component, newest id first) instead of paging through every build
an application ever had: workload-delivery asks this at every reconcile of every deployment.
Build ids sort by report time, so the greatest name is the newest build.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB, distinct_on

from threeport_registry.store.tables import BuildRow
from threeport_runtime.db.engine import Database


async def latest_matching(db: Database, application: str, environment: str) -> Sequence[Row[Any]]:
    """Per component of ``application``, its newest build whose ``status.environments`` holds
    ``environment``: one plain read (``Database.fetch``, no transaction around it, no ORM object)."""
    component = BuildRow.spec["component"].astext
    query = (
        select(BuildRow.__table__)
        .where(
            BuildRow.parent == application,
            BuildRow.delete_time.is_(None),
            BuildRow.status["environments"].contains(type_coerce([environment], JSONB)),
        )
        .order_by(component, BuildRow.name.desc())
        .ext(distinct_on(component))
    )
    return await db.fetch(query)
