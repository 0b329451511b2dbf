"""A free liveness check of pooled PostgreSQL connections, instead of a ping per checkout.

``pool_pre_ping`` sends a statement each time a session takes a connection from the pool: one
extra round trip per session, which doubles the cost of a one-statement read. This check looks
at the connection's socket instead, without sending anything. An idle connection in the pool
has nothing to read; when its socket is readable, the server has closed it (a restart, a
failover, ``pg_terminate_backend``, ``idle_session_timeout``: PostgreSQL sends its FATAL
message and closes) or sent something unexpected. Either way the pool is told the connection is
gone (``DisconnectionError``), and SQLAlchemy replaces it with a new one in the same checkout,
before any statement of the session ran, so the caller never sees the stale connection.

What this cannot see - a peer that vanished without closing (a host powered off, a firewall
dropping an idle flow) - a ping could not see quickly either; ``pool_recycle`` bounds how long
such a connection may linger, and a statement failing on it invalidates the pool (SQLAlchemy's
optimistic disconnect handling), so the call fails once as UNAVAILABLE and the next ones work.
"""

from __future__ import annotations

import select
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine


def discard_closed_connections(engine: AsyncEngine) -> None:
    """Checks every connection's socket when the pool hands it out (no round trip)."""
    event.listen(engine.sync_engine, "checkout", _check_on_checkout)


def _check_on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    if not is_open(dbapi_connection.driver_connection):
        raise DisconnectionError("the server closed this pooled connection")


def is_open(connection: Any) -> bool:
    """False when the psycopg ``connection`` is closed, or its socket has something to read
    (which, for an idle connection, means the server closed it or is closing it)."""
    if connection.closed or connection.broken:
        return False
    try:
        descriptor = connection.fileno()
    except Exception:
        return False
    poller = select.poll()
    poller.register(descriptor, select.POLLIN | select.POLLPRI)
    return not poller.poll(0)
