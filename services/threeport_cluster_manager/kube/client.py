"""Builds an asyncio ``kubernetes`` API client from a ``Connection`` and classifies failures.

Client certificates must be files for the ssl module, so they go to a private temporary
directory that lives exactly as long as the client.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from kubernetes.aio import client as kube

from threeport_cluster_manager.domain.connection import Connection


@dataclass(frozen=True)
class KubeFailure(Exception):
    """A call to the API server failed. ``kind`` is ``unreachable``, ``unauthorized``,
    ``forbidden``, ``tls`` or ``error``; ``message`` is safe to show (no credentials)."""

    kind: str
    message: str

    def __str__(self) -> str:
        return self.message


@asynccontextmanager
async def api_client(connection: Connection) -> AsyncIterator[kube.ApiClient]:
    configuration = kube.Configuration(host=connection.server)
    # One attempt per call: the controller's own retry and backoff decide what happens next.
    configuration.retries = None
    if connection.token:
        configuration.api_key = {"BearerToken": connection.token}
        configuration.api_key_prefix = {"BearerToken": "Bearer"}
    if connection.certificate_authority_data:
        configuration.ca_cert_data = connection.certificate_authority_data.decode()
    configuration.verify_ssl = not connection.insecure_skip_tls_verify
    directory = ""
    try:
        if connection.client_certificate_data:
            directory = tempfile.mkdtemp(prefix="tp-kube-")
            configuration.cert_file = _private_file(directory, "client.crt", connection.client_certificate_data)
            configuration.key_file = _private_file(directory, "client.key", connection.client_key_data)
        try:
            api = kube.ApiClient(configuration)
        except Exception as exc:  # ssl errors on malformed PEM data
            raise KubeFailure("tls", f"the cluster's TLS material cannot be loaded: {exc}") from None
        try:
            yield api
        finally:
            closer: Any = api.close
            await closer()
    finally:
        if directory:
            shutil.rmtree(directory, ignore_errors=True)


def _private_file(directory: str, name: str, data: bytes) -> str:
    path = os.path.join(directory, name)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    return path


def classify(error: BaseException, server: str) -> KubeFailure:
    """A KubeFailure for any exception raised by a call to ``server``."""
    if isinstance(error, KubeFailure):
        return error
    if isinstance(error, kube.ApiException):
        status = error.status or 0
        if status == 401:
            return KubeFailure("unauthorized", f"{server} rejected the credentials (401 Unauthorized)")
        if status == 403:
            return KubeFailure("forbidden", f"{server} denied access (403 Forbidden): the user needs more rights")
        return KubeFailure("error", f"{server} answered HTTP {status} {error.reason or ''}".rstrip())
    if isinstance(error, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        return KubeFailure("tls", f"TLS verification of {server} failed: check the certificate authority")
    if isinstance(error, aiohttp.ClientError | OSError | asyncio.TimeoutError):
        detail = type(error).__name__ if isinstance(error, asyncio.TimeoutError) else str(error)
        return KubeFailure("unreachable", f"cannot reach {server}: {detail or 'timed out'}")
    return KubeFailure("error", f"talking to {server} failed: {type(error).__name__}")
