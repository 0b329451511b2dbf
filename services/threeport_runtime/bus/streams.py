"""Stream names. Every name starts with a configurable prefix so tests can isolate themselves."""

from __future__ import annotations

from redis.asyncio import Redis

DEFAULT_MAXLEN = 100_000
PAYLOAD_FIELD = "e"


def resource_stream(prefix: str, resource_type: str) -> str:
    """The change-event stream of one resource type: the prefix, then the full proto name."""
    return f"{prefix}{resource_type}"


def dead_letter_stream(prefix: str, group: str) -> str:
    """Where a consumer group puts messages it could not handle after N deliveries."""
    return f"{prefix}dead-letter:{group}"


# Longer than any blocking stream read (watches and controllers' inboxes block 5 s, consumers 1 s), so a quiet stream is
# never mistaken for a dead server; short enough that a hung server is noticed.
SOCKET_TIMEOUT = 15.0


def connect_redis(url: str) -> Redis:
    """A client in bytes mode (payloads are serialized protobuf) that reconnects on its own."""
    return Redis.from_url(url, decode_responses=False, health_check_interval=10, socket_connect_timeout=5,
                          socket_timeout=SOCKET_TIMEOUT)
