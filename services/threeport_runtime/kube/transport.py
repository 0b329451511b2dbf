"""Raw JSON over HTTP to one API server: a session for calls, another for streams.

The official ``kubernetes`` asyncio client is aiohttp underneath; we use aiohttp directly with
the same TLS set-up and exchange plain JSON (``orjson``). That skips the generated models, whose
strict deserialization fails on objects a real API server happily stores (issue 17: one tenant's
``readinessProbe: {httpGet: {}}`` made a whole cluster "unreachable"), and their per-call cost
(issue 14). Each call has one attempt and a deadline: retries belong to the caller's backoff.

Calls (gets, lists, applies) share at most ``CALL_CONNECTIONS`` connections; watches and
followed logs each hold one of their own for minutes, in a session of their own, so a burst of
calls never waits behind them, and they never inherit a connection a large list answer went
through. A TLS connection allocates ~260 KB (256 KB of it uvloop's read buffer, of which a read
touches one TLS record) and keeps ~60-100 KB resident: where lists and watches shared one pool of
up to 64 connections per server, delivery at 2,000 deployments over 100 clusters held ~1,100
connections, ~290 MB allocated, at its peak (issue 14; measured in ``tools/bench/README.md``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import ssl
import tempfile
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aiohttp
import orjson

from threeport_runtime.heap import discard_pages
from threeport_runtime.kube.connection import Connection
from threeport_runtime.kube.errors import KubeError, TLSFailure, Unreachable, from_response

JSON = "application/json"
APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"

Query = Sequence[tuple[str, str]]
KEEPALIVE_SECONDS = 60.0
# Calls (gets, lists, applies) to one API server in flight at once; more wait for a connection.
# A reconcile applies a wave of objects at once and a cache lists its kinds at once, so a pool
# grew to ~5 connections per cluster and kept them; 4 do the same work on loopback with fewer
# buffers, and still ~100 calls/s at 40 ms a call to a distant cluster.
CALL_CONNECTIONS = 4


def ssl_context(connection: Connection) -> ssl.SSLContext:
    """The TLS context for ``connection``; raises TLSFailure when its PEM data cannot be loaded."""
    try:
        cadata = connection.certificate_authority_data.decode() if connection.certificate_authority_data else None
        context = ssl.create_default_context(cadata=cadata)
        if connection.client_certificate_data:
            _load_client_certificate(context, connection)
    except (ssl.SSLError, ValueError, OSError) as error:
        raise TLSFailure(f"the TLS material for {connection.server} cannot be loaded: {error}") from None
    if connection.insecure_skip_tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _load_client_certificate(context: ssl.SSLContext, connection: Connection) -> None:
    # The ssl module reads key pairs only from files; once loaded they live in the context, so
    # the private files exist only for the duration of this call.
    directory = tempfile.mkdtemp(prefix="tp-kube-")
    try:
        certificate = _private_file(directory, "client.crt", connection.client_certificate_data)
        key = _private_file(directory, "client.key", connection.client_key_data)
        context.load_cert_chain(certificate, key)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _private_file(directory: str, name: str, data: bytes) -> str:
    path = os.path.join(directory, name)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    return path


class Transport:
    """HTTP to one API server with one connection pool; created lazily inside the event loop."""

    def __init__(self, connection: Connection, call_timeout: float):
        self.server = connection.server.rstrip("/")
        self.call_timeout = call_timeout
        self._ssl: ssl.SSLContext | bool = ssl_context(connection) if self.server.startswith("https:") else False
        self._headers = {"Accept": JSON}
        if connection.token:
            self._headers["Authorization"] = f"Bearer {connection.token}"
        self._session: aiohttp.ClientSession | None = None
        self._stream_session: aiohttp.ClientSession | None = None

    def _session_now(self) -> aiohttp.ClientSession:
        """The session of calls: at most ``CALL_CONNECTIONS`` connections at a time."""
        if self._session is None or self._session.closed:
            self._session = self._new_session(CALL_CONNECTIONS)
        return self._session

    def _stream_session_now(self) -> aiohttp.ClientSession:
        """The session of watches and followed logs: a connection each, as many as are open."""
        if self._stream_session is None or self._stream_session.closed:
            self._stream_session = self._new_session(0)
        return self._stream_session

    def _new_session(self, limit: int) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            # Idle connections kept for a minute, not aiohttp's 15 s: a probe every 30 s and a
            # deployment's bursts of applies made a new TLS handshake each time (a tenth of the
            # emulator's CPU at 100 clusters), and a minute is still under the usual server idle
            # timeouts (aiohttp's 75 s).
            connector=aiohttp.TCPConnector(ssl=self._ssl, limit=limit, keepalive_timeout=KEEPALIVE_SECONDS),
            headers=self._headers,
            read_bufsize=2**21,
        )

    async def close(self) -> None:
        for session in (self._session, self._stream_session):
            if session is not None:
                await session.close()

    async def call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        query: Query = (),
        body: Any = None,
        content_type: str = JSON,
        call_timeout: float | None = None,
    ) -> Any:
        """The decoded JSON answer; raises the taxonomy's error for failures and error answers."""
        data = orjson.dumps(body) if body is not None else None
        headers = {"Content-Type": content_type} if data is not None else None
        deadline = call_timeout or self.call_timeout
        try:
            async with asyncio.timeout(deadline):
                async with self._session_now().request(
                    method, self.server + path, params=list(query), data=data, headers=headers
                ) as response:
                    raw = await response.read()
                    status = response.status
        except KubeError:
            raise
        except Exception as error:
            raise self._transport_error(what, error, deadline) from None
        decoded = _decode(raw)
        if status >= 400:
            raise from_response(what, self.server, status, decoded)
        return decoded

    async def text(self, path: str, *, what: str, query: Query = ()) -> str:
        """A GET whose answer is plain text (a Pod's log); error answers raise as ``call``'s do."""
        try:
            async with asyncio.timeout(self.call_timeout):
                async with self._session_now().get(self.server + path, params=list(query)) as response:
                    raw = await response.read()
                    status = response.status
        except KubeError:
            raise
        except Exception as error:
            raise self._transport_error(what, error, self.call_timeout) from None
        if status >= 400:
            raise from_response(what, self.server, status, _decode(raw))
        return raw.decode(errors="replace")

    async def stream(self, path: str, *, what: str, query: Query = ()) -> AsyncIterator[dict[str, Any]]:
        """The JSON lines of a watch; the caller bounds it (``timeoutSeconds``, a timeout scope)."""
        try:
            async with self._stream_session_now().get(
                self.server + path, params=list(query), timeout=aiohttp.ClientTimeout(total=None)
            ) as response:
                if response.status >= 400:
                    raise from_response(what, self.server, response.status, _decode(await response.read()))
                _discard_read_buffer(response)
                async for line in response.content:
                    if line.strip():
                        yield orjson.loads(line)
        except KubeError:
            raise
        except (aiohttp.ClientError, OSError, ssl.SSLError) as error:
            raise self._transport_error(what, error, None) from None

    async def stream_lines(self, path: str, *, what: str, query: Query = ()) -> AsyncIterator[str]:
        """The text lines of a plain-text answer (a pod's log), as they arrive; unbounded, so the
        caller bounds it (``follow=false``, a timeout scope, or leaving the iteration)."""
        try:
            async with self._stream_session_now().get(
                self.server + path, params=list(query), headers={"Accept": "*/*"},
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.call_timeout),
            ) as response:
                if response.status >= 400:
                    raise from_response(what, self.server, response.status, _decode(await response.read()))
                _discard_read_buffer(response)
                async for line in response.content:
                    yield line.decode(errors="replace").rstrip("\n")
        except KubeError:
            raise
        except (aiohttp.ClientError, OSError, ssl.SSLError) as error:
            raise self._transport_error(what, error, None) from None

    def _transport_error(self, what: str, error: BaseException, deadline: float | None) -> KubeError:
        if isinstance(error, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError | ssl.SSLError):
            return TLSFailure(f"{what}: TLS with {self.server} failed: check the certificate authority")
        if isinstance(error, TimeoutError):
            return Unreachable(f"{what}: {self.server} did not answer within {deadline or self.call_timeout:g}s")
        if isinstance(error, aiohttp.ClientError | OSError):
            return Unreachable(f"{what}: cannot reach {self.server}: {error or type(error).__name__}")
        return KubeError(f"{what}: talking to {self.server} failed: {type(error).__name__}")


def _discard_read_buffer(response: aiohttp.ClientResponse) -> None:
    """Discards the pages of the TLS read buffer of the connection a stream starts on.

    uvloop reads a TLS connection through a 256 KB buffer of its own, which it hands out as a
    ``BufferedProtocol`` does (``get_buffer``) and copies out of at once, so between two reads
    its contents are garbage. It is carved from the C heap, whose pages a burst of work left
    resident: at 2,000 deployments over 100 clusters delivery's ~1,000 TLS connections held 22
    MB resident in those buffers, though a watch's reads touch a few KB of one. A stream holds
    its connection for minutes, so each one (and each new watch on a kept connection) hands its
    buffer's pages back (``heap.discard_pages``); the next read takes what it writes. Elsewhere
    (asyncio's own loop, plain HTTP) there is no such buffer and nothing is done."""
    connection = response.connection
    transport = connection.transport if connection is not None else None
    protocol = transport.get_extra_info("uvloop.sslproto") if transport is not None else None
    if protocol is not None:
        discard_pages(protocol.get_buffer(0))


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {"message": raw[:200].decode(errors="replace")}
