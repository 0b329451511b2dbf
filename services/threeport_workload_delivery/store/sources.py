"""Which (application, environment) pairs the deployments name: what a restarted delivery asks
the registry for in bulk (the newest matching builds of each pair, ``remote_reads``) before its
first resync's reconciles would each ask for their own."""

from __future__ import annotations

from sqlalchemy import func, literal, select

from threeport_runtime.db.engine import Database
from threeport_runtime.db.plain_reads import PlainRead
from threeport_workload_delivery.store.tables import DeploymentRow

_PROJECT = func.split_part(DeploymentRow.name, "/", 2)  # projects/{project}/deployments/{deployment}
_APPLICATION = func.concat(literal("projects/"), _PROJECT, literal("/applications/"),
                           DeploymentRow.spec["application"].astext).label("application")
_ENVIRONMENT = func.concat(literal("projects/"), _PROJECT, literal("/environments/"),
                           DeploymentRow.spec["environment"].astext).label("environment")
_PAIRS = PlainRead(
    select(_APPLICATION, _ENVIRONMENT)
    .where(DeploymentRow.delete_time.is_(None))
    .distinct()
    .order_by(_APPLICATION, _ENVIRONMENT)
)


async def application_environments(db: Database) -> list[tuple[str, str]]:
    """Every (application, environment) pair of resource names that a deployment not being
    deleted names, once each: one plain read."""
    return [(row.application, row.environment) for row in await db.fetch(_PAIRS)]
