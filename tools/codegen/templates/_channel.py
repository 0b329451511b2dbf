"""Builds gRPC channels and the metadata every call carries (token, extra headers).

``tls`` follows one rule for both clients: ``False`` is plaintext (the local control plane),
``True`` verifies the server against the system's CA bundle, and a path (``str``/``PathLike``)
or PEM ``bytes`` verifies it against that CA bundle instead. ``client_cert`` and ``client_key``
(path or PEM bytes, both or neither) add a client certificate for mutual TLS.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Sequence
from pathlib import Path
from typing import TypeAlias

import grpc
import grpc.aio

Metadata: TypeAlias = Sequence[tuple[str, str]]
PemSource: TypeAlias = "str | os.PathLike[str] | bytes"
TlsSetting: TypeAlias = "bool | str | os.PathLike[str] | bytes"

USER_AGENT = "threeport-sdk-python"
_CHANNEL_OPTIONS: tuple[tuple[str, str | int], ...] = (("grpc.primary_user_agent", USER_AGENT),)


def _read_pem(source: PemSource) -> bytes:
    if isinstance(source, bytes):
        return source
    return Path(source).read_bytes()


def _system_roots() -> bytes | None:
    """The system CA bundle; None lets gRPC fall back to its own bundled roots."""
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and Path(candidate).is_file():
            return Path(candidate).read_bytes()
    return None


def channel_credentials(
    tls: TlsSetting,
    client_cert: PemSource | None = None,
    client_key: PemSource | None = None,
) -> grpc.ChannelCredentials | None:
    """Returns credentials for a TLS channel, or None for plaintext."""
    if (client_cert is None) != (client_key is None):
        raise ValueError("client_cert and client_key go together: give both for mutual TLS, or neither")
    if tls is False:
        if client_cert is not None:
            raise ValueError("a client certificate needs TLS: pass tls=True or a CA bundle")
        return None
    roots = _system_roots() if tls is True else _read_pem(tls)
    return grpc.ssl_channel_credentials(
        root_certificates=roots,
        private_key=_read_pem(client_key) if client_key is not None else None,
        certificate_chain=_read_pem(client_cert) if client_cert is not None else None,
    )


def open_channel(target: str, credentials: grpc.ChannelCredentials | None) -> grpc.Channel:
    if credentials is None:
        return grpc.insecure_channel(target, options=_CHANNEL_OPTIONS)
    return grpc.secure_channel(target, credentials, options=_CHANNEL_OPTIONS)


def open_aio_channel(target: str, credentials: grpc.ChannelCredentials | None) -> grpc.aio.Channel:
    if credentials is None:
        return grpc.aio.insecure_channel(target, options=_CHANNEL_OPTIONS)
    return grpc.aio.secure_channel(target, credentials, options=_CHANNEL_OPTIONS)


def client_metadata(token: str | None, extra: Metadata) -> tuple[tuple[str, str], ...]:
    """The metadata sent on every call: ``authorization: Bearer <token>`` plus ``extra``.

    Services pass their own ``authorization: Service <credential>`` in ``extra`` instead of a
    token; giving both would send two credentials, which is refused here rather than at the server.
    """
    pairs = [(key.lower(), value) for key, value in extra]
    if token is not None:
        if any(key == "authorization" for key, _ in pairs):
            raise ValueError("give either token= or an 'authorization' entry in metadata=, not both")
        pairs.insert(0, ("authorization", f"Bearer {token}"))
    return tuple(pairs)
