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


# Longer than any blocking read the runtime issues (Watch heartbeats, consumer blocks).
BLOCKING_READ_TIMEOUT_SECONDS = 30.0


def connect_redis(url: str) -> Redis:
    """A client in bytes mode (payloads are serialized protobuf) that reconnects on its own."""
    # redis-py 8 reads with the connect timeout unless socket_timeout is given, which cut every
    # blocking XREAD of 5 s or more (Watch heartbeats, consumers) short with a TimeoutError.
    return Redis.from_url(
        url,
        decode_responses=False,
        health_check_interval=10,
        socket_connect_timeout=5,
        socket_timeout=BLOCKING_READ_TIMEOUT_SECONDS,
    )
