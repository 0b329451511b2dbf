"""Gateway settings: the runtime's ``THREEPORT_*`` settings plus routing, TLS, limits, bootstrap.

Every backend is optional: a call routed to a backend that is not configured fails with
UNAVAILABLE (reason BACKEND_UNAVAILABLE) naming the service, so a partial control plane still
serves what it has.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from threeport_api_gateway.domain.tokens import MalformedToken, parse
from threeport_runtime.config import ENV_PREFIX, ConfigError, Settings

SERVICE_NAME = "api-gateway"


@dataclass(frozen=True)
class Backend:
    """A service the gateway routes to: the proto domain it owns and where it listens."""

    domain: str
    service: str
    env_var: str


# Proto package ``threeport.<domain>.v1alpha1`` -> the service that owns it.
BACKENDS: tuple[Backend, ...] = (
    Backend("registry", "registry", ENV_PREFIX + "BACKEND_REGISTRY"),
    Backend("delivery", "workload-delivery", ENV_PREFIX + "BACKEND_DELIVERY"),
    Backend("clusters", "cluster-manager", ENV_PREFIX + "BACKEND_CLUSTERS"),
    Backend("addons", "addon-manager", ENV_PREFIX + "BACKEND_ADDONS"),
    Backend("infra", "infra-provider", ENV_PREFIX + "BACKEND_INFRA"),
)
LOCAL_DOMAIN = "gateway"


@dataclass(frozen=True)
class TlsSettings:
    """Server TLS; with ``client_ca`` set, callers must present a certificate it signed (mTLS)."""

    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None


@dataclass(frozen=True)
class GatewaySettings:
    runtime: Settings
    backend_addresses: Mapping[str, str] = field(default_factory=dict)
    tls: TlsSettings | None = None
    rate_limit_per_second: float = 50.0
    rate_limit_burst: float = 100.0
    # Calls that fail authentication, per source address: checked before any hashing or auditing.
    auth_failure_rate: float = 1.0
    auth_failure_burst: float = 20.0
    auth_cache_seconds: float = 5.0
    bootstrap_principal: str = "admin"
    bootstrap_token_file: Path | None = None
    # A preset first-administrator token (tp_<32 hex>_<43 chars>); empty = generate one.
    bootstrap_token: str = field(default="", repr=False)
    drain_seconds: float = 1.0
    # host:port of the HTTP/JSON listener; empty = no HTTP listener.
    http_listen_address: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GatewaySettings:
        env = os.environ if environ is None else environ
        runtime = Settings.from_env(SERVICE_NAME, env)
        addresses = {b.domain: env[b.env_var].strip() for b in BACKENDS if env.get(b.env_var, "").strip()}
        for backend in BACKENDS:
            address = addresses.get(backend.domain, "")
            if address and ":" not in address:
                raise ConfigError(f"{backend.env_var} must be host:port, got {address!r}")
        token_file = env.get(ENV_PREFIX + "GATEWAY_BOOTSTRAP_TOKEN_FILE", "")
        http_address = env.get(ENV_PREFIX + "GATEWAY_HTTP_LISTEN_ADDRESS", "").strip()
        if http_address and not _is_host_port(http_address):
            raise ConfigError(
                f"{ENV_PREFIX}GATEWAY_HTTP_LISTEN_ADDRESS must be host:port (e.g. 0.0.0.0:8080), got {http_address!r}"
            )
        return cls(
            runtime=runtime,
            backend_addresses=addresses,
            tls=_tls(env),
            rate_limit_per_second=_number(env, "GATEWAY_RATE_LIMIT", cls.rate_limit_per_second),
            rate_limit_burst=_number(env, "GATEWAY_RATE_BURST", cls.rate_limit_burst),
            auth_failure_rate=_number(env, "GATEWAY_AUTH_FAILURE_RATE", cls.auth_failure_rate),
            auth_failure_burst=_number(env, "GATEWAY_AUTH_FAILURE_BURST", cls.auth_failure_burst),
            auth_cache_seconds=_number(env, "GATEWAY_AUTH_CACHE_SECONDS", cls.auth_cache_seconds),
            bootstrap_principal=env.get(ENV_PREFIX + "GATEWAY_BOOTSTRAP_PRINCIPAL", "") or "admin",
            bootstrap_token_file=Path(token_file) if token_file else None,
            bootstrap_token=_preset_token(env),
            drain_seconds=_number(env, "GATEWAY_DRAIN_SECONDS", cls.drain_seconds),
            http_listen_address=http_address,
        )


def _preset_token(env: Mapping[str, str]) -> str:
    text = env.get(ENV_PREFIX + "GATEWAY_BOOTSTRAP_TOKEN", "").strip()
    if text:
        try:
            parse(text)
        except MalformedToken:
            raise ConfigError(
                f"{ENV_PREFIX}GATEWAY_BOOTSTRAP_TOKEN must look like tp_<32 hex digits>_<43 base64url characters>"
            ) from None
    return text


def _is_host_port(address: str) -> bool:
    _, colon, port = address.rpartition(":")
    return bool(colon) and port.isdigit() and int(port) < 65536


def _tls(env: Mapping[str, str]) -> TlsSettings | None:
    cert = env.get(ENV_PREFIX + "GATEWAY_TLS_CERT", "")
    key = env.get(ENV_PREFIX + "GATEWAY_TLS_KEY", "")
    client_ca = env.get(ENV_PREFIX + "GATEWAY_TLS_CLIENT_CA", "")
    if not cert and not key:
        if client_ca:
            raise ConfigError(
                f"{ENV_PREFIX}GATEWAY_TLS_CLIENT_CA needs TLS: set {ENV_PREFIX}GATEWAY_TLS_CERT and _KEY too"
            )
        return None
    if not (cert and key):
        raise ConfigError(f"set both {ENV_PREFIX}GATEWAY_TLS_CERT and {ENV_PREFIX}GATEWAY_TLS_KEY, or neither")
    paths = [Path(cert), Path(key), *([Path(client_ca)] if client_ca else [])]
    for path in paths:
        if not path.is_file():
            raise ConfigError(f"TLS file {path} does not exist")
    return TlsSettings(Path(cert), Path(key), Path(client_ca) if client_ca else None)


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(ENV_PREFIX + name, "")
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{ENV_PREFIX}{name} must be a number, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{ENV_PREFIX}{name} must not be negative, got {raw!r}")
    return value
