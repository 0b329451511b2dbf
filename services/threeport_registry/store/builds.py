"""The newest build per component of an application: of all its builds, and of those an
environment's auto-deploy rules matched.

One query each (``DISTINCT ON`` the component, newest id first) instead of paging through every
build an application ever had: workload-delivery asks for the matched ones at every reconcile of
every deployment, and the application's own reconcile for the newest ones (its
``status.latest_builds``) at every pass, each periodic resync included. Build ids sort by report
time, so the greatest name is the newest build. Workload-delivery, starting with empty caches,
asks for a thousand (application, environment) pairs at a time (``latest_matching_many``): one
query joining the pairs, not one per pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Text, and_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, distinct_on

from threeport_registry.store.tables import BuildRow
from threeport_runtime.db.engine import Database
from threeport_runtime.db.plain_reads import PlainRead

_COMPONENT = BuildRow.spec["component"].astext

# Built once (``PlainRead``): the restart resync of workload-delivery asks it once per deployment.
_LATEST_MATCHING = PlainRead(
    select(BuildRow.__table__)
    .where(
        BuildRow.parent == bindparam("application"),
        BuildRow.delete_time.is_(None),
        BuildRow.status["environments"].contains(bindparam("environments", type_=JSONB)),
    )
    .order_by(_COMPONENT, BuildRow.name.desc())
    .ext(distinct_on(_COMPONENT))
)


async def latest_matching(db: Database, application: str, environment: str) -> Sequence[Any]:
    """Per component of ``application``, its newest build whose ``status.environments`` holds
    ``environment``: one plain read (``Database.fetch`` of a ``PlainRead``: no transaction around
    it, no ORM object, no SQLAlchemy execution)."""
    return await db.fetch(_LATEST_MATCHING, {"application": application, "environments": [environment]})


# The asked pairs as a table: ``unnest`` of two arrays of the same length, row i their i-th items.
_ASKED = (
    func.unnest(bindparam("applications", type_=ARRAY(Text)), bindparam("environments", type_=ARRAY(Text)))
    .table_valued("application", "environment")
    .render_derived(name="asked")
)
_LATEST_MATCHING_MANY = PlainRead(
    select(_ASKED.c.application.label("asked_application"), _ASKED.c.environment.label("asked_environment"),
           BuildRow.__table__)
    .select_from(_ASKED)
    .join(BuildRow, and_(
        BuildRow.parent == _ASKED.c.application,
        BuildRow.delete_time.is_(None),
        BuildRow.status["environments"].contains(func.jsonb_build_array(_ASKED.c.environment)),
    ))
    .order_by(_ASKED.c.application, _ASKED.c.environment, _COMPONENT, BuildRow.name.desc())
    .ext(distinct_on(_ASKED.c.application, _ASKED.c.environment, _COMPONENT))
)


async def latest_matching_many(db: Database, asked: Sequence[tuple[str, str]]) -> dict[tuple[str, str], list[Any]]:
    """``latest_matching`` for each (application, environment) pair of ``asked``, in one plain
    read: every pair maps to its rows (none when nothing matched)."""
    found: dict[tuple[str, str], list[Any]] = {pair: [] for pair in asked}
    if not found:
        return found
    rows = await db.fetch(_LATEST_MATCHING_MANY, {"applications": [application for application, _ in found],
                                                   "environments": [environment for _, environment in found]})
    for row in rows:
        found[(row.asked_application, row.asked_environment)].append(row)
    return found


_NEWEST = PlainRead(
    select(_COMPONENT.label("component"), BuildRow.name)
    .where(BuildRow.parent == bindparam("application"), BuildRow.delete_time.is_(None))
    .order_by(_COMPONENT, BuildRow.name.desc())
    .ext(distinct_on(_COMPONENT))
)


async def newest_per_component(db: Database, application: str) -> dict[str, str]:
    """Component -> the name of its newest build of ``application``: one plain read of two
    columns, where paging through the builds turned every build ever reported into a message
    at every pass of the application (a CI reporting builds for months made each resync
    slower)."""
    return {row.component: row.name for row in await db.fetch(_NEWEST, {"application": application})}
