"""Reports, through the standard gRPC health service, whether a service reaches its datastores.

The overall health (service "") says the process serves; these two entries say whether it can
do anything useful: ``threeport.datastore.PostgreSQL`` and ``threeport.datastore.Redis`` are
SERVING while a trivial query answers and NOT_SERVING while it does not. ``tptctl status``
reads them to say which service cannot reach its database; load balancers and probes may too.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from grpc_health.v1 import health_pb2
from redis.asyncio import Redis
from sqlalchemy import text

from threeport_runtime.db.engine import Database

log = logging.getLogger(__name__)

DATABASE_HEALTH = "threeport.datastore.PostgreSQL"
REDIS_HEALTH = "threeport.datastore.Redis"
CHECK_INTERVAL_SECONDS = 5.0
CHECK_TIMEOUT_SECONDS = 3.0

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def report_datastore_health(health: Any, db: Database, redis: Redis) -> None:
    """Runs until cancelled, updating the two health entries every few seconds."""
    while True:
        await health.set(DATABASE_HEALTH, SERVING if await _answers(_query(db)) else NOT_SERVING)
        await health.set(REDIS_HEALTH, SERVING if await _answers(_ping(redis)) else NOT_SERVING)
        await asyncio.sleep(CHECK_INTERVAL_SECONDS)


async def _query(db: Database) -> None:
    async with db.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def _ping(redis: Redis) -> None:
    await redis.ping()


async def _answers(check: Any) -> bool:
    try:
        await asyncio.wait_for(check, CHECK_TIMEOUT_SECONDS)
    except Exception as error:  # any failure means: not reachable now
        log.warning("a datastore does not answer: %s", error)
        return False
    return True
