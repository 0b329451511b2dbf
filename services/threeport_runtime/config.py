"""Service settings read once from ``THREEPORT_*`` environment variables.

Settings are frozen and validated at start so that a misconfigured process fails
immediately with a message naming the variable, instead of failing later mid-request.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Self

ENV_PREFIX = "THREEPORT_"
# Pooled PostgreSQL connections beyond one per reconcile worker: the outbox relay, RPC handlers
# and background loops use the pool too. Fewer than the work needs at once and the pool opens
# and closes a connection for each session beyond it (see ``Database``). Two, not four, since
# the hot reads have two connections of their own (``PlainRead``): a process keeps as many as before.
DEFAULT_POOL_HEADROOM = 2


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable and the fix."""


@dataclass(frozen=True)
class EncryptionKey:
    """One AES key with the id stored next to every value it encrypted."""

    key_id: str
    secret: bytes = field(repr=False)


@dataclass(frozen=True)
class Settings:
    """Everything a service process needs to know about its surroundings."""

    service_name: str
    database_url: str
    redis_url: str = "redis://127.0.0.1:6379/0"
    listen_address: str = "127.0.0.1:50051"
    service_credential: str = field(default="", repr=False)
    encryption_keys: tuple[EncryptionKey, ...] = field(default=(), repr=False)
    stream_prefix: str = "threeport:"
    otlp_endpoint: str = ""
    log_level: str = "INFO"
    resync_interval_seconds: float = 300.0
    reconcile_timeout_seconds: float = 300.0
    # Reconciles each controller runs at once (see ``ControllerOptions.workers``).
    reconcile_workers: int = 16
    # Connections each process keeps open to PostgreSQL (``Database``); None: the reconcile
    # workers plus room for the outbox relay and RPCs (``pool_size``).
    database_pool_size: int | None = None
    shutdown_grace_seconds: float = 10.0
    # host:port of the Prometheus /metrics endpoint; empty = none.
    metrics_listen_address: str = ""

    @classmethod
    def from_env(cls, service_name: str, environ: Mapping[str, str] | None = None) -> Self:
        """Reads and validates the settings; raises ConfigError naming the bad variable."""
        env = os.environ if environ is None else environ

        def get(name: str, default: str | None = None) -> str:
            value = env.get(ENV_PREFIX + name, default)
            if value is None or value == "":
                if default is not None:
                    return default
                raise ConfigError(f"{ENV_PREFIX}{name} is required but not set")
            return value

        database_url = get("DATABASE_URL")
        if not database_url.startswith("postgresql+psycopg://"):
            raise ConfigError(
                f"{ENV_PREFIX}DATABASE_URL must start with postgresql+psycopg:// (got {database_url.split(':')[0]}://...)"
            )
        redis_url = get("REDIS_URL", cls.redis_url)
        if not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(f"{ENV_PREFIX}REDIS_URL must be a redis:// or rediss:// URL")
        listen_address = get("LISTEN_ADDRESS", cls.listen_address)
        if ":" not in listen_address:
            raise ConfigError(f"{ENV_PREFIX}LISTEN_ADDRESS must be host:port, e.g. 0.0.0.0:50051")
        metrics_address = get("METRICS_LISTEN_ADDRESS", "")
        if metrics_address and not metrics_address.rpartition(":")[2].isdigit():
            raise ConfigError(f"{ENV_PREFIX}METRICS_LISTEN_ADDRESS must be host:port, e.g. 0.0.0.0:9464")
        settings = cls(
            service_name=service_name,
            database_url=database_url,
            redis_url=redis_url,
            listen_address=listen_address,
            service_credential=get("SERVICE_CREDENTIAL", ""),
            encryption_keys=_encryption_keys(env),
            stream_prefix=get("STREAM_PREFIX", cls.stream_prefix),
            otlp_endpoint=get("OTLP_ENDPOINT", ""),
            log_level=get("LOG_LEVEL", cls.log_level).upper(),
            resync_interval_seconds=_positive_float(env, "RESYNC_INTERVAL_SECONDS", cls.resync_interval_seconds),
            reconcile_timeout_seconds=_positive_float(env, "RECONCILE_TIMEOUT_SECONDS",
                                                      cls.reconcile_timeout_seconds),
            reconcile_workers=_count(env, "RECONCILE_WORKERS", cls.reconcile_workers, most=256),
            # Unset reads as 0 (a value given is at least 1): None, the size that follows the workers.
            database_pool_size=_count(env, "DATABASE_POOL_SIZE", 0, most=1000) or None,
            shutdown_grace_seconds=_positive_float(env, "SHUTDOWN_GRACE_SECONDS", cls.shutdown_grace_seconds),
            metrics_listen_address=metrics_address,
        )
        if len(settings.service_credential) < 16:
            raise ConfigError(
                f"{ENV_PREFIX}SERVICE_CREDENTIAL must be set to a shared secret of at least 16 characters"
            )
        return settings

    @property
    def pool_size(self) -> int:
        """Connections the PostgreSQL pool keeps: as set, else one per reconcile worker and
        ``DEFAULT_POOL_HEADROOM`` more."""
        if self.database_pool_size is not None:
            return self.database_pool_size
        return self.reconcile_workers + DEFAULT_POOL_HEADROOM

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with some fields replaced (tests and tools)."""
        return replace(self, **changes)  # type: ignore[arg-type]


def _count(env: Mapping[str, str], name: str, default: int, *, most: int) -> int:
    raw = env.get(ENV_PREFIX + name, "")
    if raw == "":
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= most:
        raise ConfigError(f"{ENV_PREFIX}{name} must be a whole number from 1 to {most}, got {raw!r}")
    return int(raw)


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(ENV_PREFIX + name, "")
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{ENV_PREFIX}{name} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{ENV_PREFIX}{name} must be positive, got {raw!r}")
    return value


def positive_seconds(env: Mapping[str, str], name: str, default: float) -> float:
    """``THREEPORT_<name>`` as a positive number of seconds (``default`` when unset), for a
    service's own settings; a bad value is a ``ConfigError`` naming the variable."""
    return _positive_float(env, name, default)


def parse_encryption_keys(spec: str, variable: str = ENV_PREFIX + "ENCRYPTION_KEYS") -> tuple[EncryptionKey, ...]:
    """Parses ``kid1:base64key,kid2:base64key``; the first key is the current one."""
    keys: list[EncryptionKey] = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        key_id, sep, encoded = item.partition(":")
        if not sep or not key_id:
            raise ConfigError(f"{variable} entries must look like kid:base64key, got one without a key id")
        try:
            secret = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(f"{variable}: key {key_id!r} is not valid base64") from None
        if len(secret) not in (16, 24, 32):
            raise ConfigError(f"{variable}: key {key_id!r} must be 16, 24 or 32 bytes, got {len(secret)}")
        if any(k.key_id == key_id for k in keys):
            raise ConfigError(f"{variable}: key id {key_id!r} appears twice")
        keys.append(EncryptionKey(key_id, secret))
    return tuple(keys)


def _encryption_keys(env: Mapping[str, str]) -> tuple[EncryptionKey, ...]:
    inline = env.get(ENV_PREFIX + "ENCRYPTION_KEYS", "")
    path = env.get(ENV_PREFIX + "ENCRYPTION_KEYS_FILE", "")
    if inline and path:
        raise ConfigError(f"set only one of {ENV_PREFIX}ENCRYPTION_KEYS and {ENV_PREFIX}ENCRYPTION_KEYS_FILE")
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                inline = ",".join(line.strip() for line in handle if line.strip() and not line.startswith("#"))
        except OSError as exc:
            raise ConfigError(f"{ENV_PREFIX}ENCRYPTION_KEYS_FILE: cannot read {path}: {exc.strerror}") from None
        return parse_encryption_keys(inline, ENV_PREFIX + "ENCRYPTION_KEYS_FILE")
    return parse_encryption_keys(inline)
