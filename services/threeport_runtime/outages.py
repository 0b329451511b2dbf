"""Recognises an outage in an exception, so that callers get UNAVAILABLE, not INTERNAL.

A service whose PostgreSQL or Redis is down (restarting, unreachable, out of connections) cannot
answer, but nothing is wrong with the request: the caller should retry, and the SDK does so for
idempotent calls. ``as_outage`` turns such exceptions into ``Unavailable`` (reason
``BACKEND_UNAVAILABLE``) with ``metadata.datastore`` naming the store and a retry hint.

The same holds for another service a handler calls (workload-delivery asks the registry for
the application it deploys): when that one is restarting, its UNAVAILABLE (or a deadline it
could not meet) reaches this handler as the SDK's error once the SDK's own retries are spent,
and becomes UNAVAILABLE for the caller too. Its text passes through only when it is one of
ours (it names the service and its datastore); a transport error's text names internal
addresses, so the caller gets a plain sentence instead.
"""

from __future__ import annotations

import psycopg
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from threeport.sdk import ApiError, DeadlineExceededError, UnavailableError
from threeport_runtime.errors import ERROR_DOMAIN, Unavailable

RETRY_AFTER_SECONDS = 2.0


def as_outage(error: BaseException, service: str = "") -> Unavailable | None:
    """An ``Unavailable`` when ``error`` means a datastore or a service this one calls cannot be
    reached, else None."""
    who = f"the {service} service" if service else "the service"
    if isinstance(error, UnavailableError | DeadlineExceededError):
        return _dependency_outage(error, who, service)
    datastore = _datastore(error)
    if datastore is None:
        return None
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


def _dependency_outage(error: ApiError, who: str, service: str) -> Unavailable:
    ours = error.domain == ERROR_DOMAIN and error.code.name == "UNAVAILABLE"
    message = error.message if ours else f"{who} cannot reach a service it depends on right now; retry in a few seconds"
    return Unavailable(
        message,
        metadata={**error.error_metadata, **({"service": service} if service and not ours else {})},
        retry_after=error.retry_delay or RETRY_AFTER_SECONDS,
    )
