"""Recognises a datastore outage in an exception, so that callers get UNAVAILABLE, not INTERNAL.

A service whose PostgreSQL or Redis is down (restarting, unreachable, out of connections) cannot
answer, but nothing is wrong with the request: the caller should retry, and the SDK does so for
idempotent calls. ``as_outage`` turns such exceptions into ``Unavailable`` (reason
``BACKEND_UNAVAILABLE``) with ``metadata.datastore`` naming the store and a retry hint.
"""

from __future__ import annotations

import psycopg
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from threeport_runtime.errors import Unavailable

RETRY_AFTER_SECONDS = 2.0


def as_outage(error: BaseException, service: str = "") -> Unavailable | None:
    """An ``Unavailable`` when ``error`` means a datastore cannot be reached, else None."""
    datastore = _datastore(error)
    if datastore is None:
        return None
    who = f"the {service} service" if service else "the service"
    return Unavailable(
        f"{who} cannot reach its {datastore} right now; retry in a few seconds",
        metadata={"datastore": datastore, **({"service": service} if service else {})},
        retry_after=RETRY_AFTER_SECONDS,
    )


def _datastore(error: BaseException) -> str | None:
    if isinstance(error, PoolTimeoutError):
        return "database (PostgreSQL)"
    if isinstance(error, DBAPIError):
        if error.connection_invalidated or isinstance(error.orig, psycopg.OperationalError | psycopg.InterfaceError):
            return "database (PostgreSQL)"
        return None
    if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
        return "database (PostgreSQL)"
    if isinstance(error, RedisConnectionError | RedisTimeoutError):
        return "event bus (Redis)"
    # A bare OSError is not claimed: it may come from anything else a call talks to.
    return None
