"""A small HTTP/1.1 server on asyncio streams: keep-alive, fixed and chunked streaming responses.

It exists because the emulator must serve hundreds of listening sockets from one event loop with
little memory, and needs fine control over streaming (watch) and over closing a listener (the
"unreachable" fault). Handlers receive a parsed `Request` and return a `Response` or a
`StreamResponse` whose async iterator yields body chunks.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 64 * 1024 * 1024

REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    410: "Gone",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    # Set by the connection: a future that completes when the client goes away, so long-running
    # streams (watches) can stop promptly instead of waiting for their timeout.
    disconnected: asyncio.Future[None] | None = None

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class StreamResponse:
    status: int
    chunks: AsyncIterator[bytes]
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Awaitable[Response | StreamResponse]]


class BadRequest(Exception):
    """The bytes on the wire are not an HTTP/1.1 request we can serve."""


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise BadRequest("truncated request head") from exc
        return None
    except asyncio.LimitOverrunError as exc:
        raise BadRequest("request head too large") from exc
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, _version = lines[0].split(" ", 2)
    except ValueError as exc:
        raise BadRequest("malformed request line") from exc
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    body = b""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        parts: list[bytes] = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        body = b"".join(parts)
    elif "content-length" in headers:
        length = int(headers["content-length"])
        if length > MAX_BODY_BYTES:
            raise BadRequest("body too large")
        body = await reader.readexactly(length)
    split = urlsplit(target)
    query = parse_qs(split.query, keep_blank_values=True)
    return Request(method=method.upper(), path=unquote(split.path), query=query, headers=headers, body=body)


def _head(status: int, content_type: str, extra: dict[str, str], keep_alive: bool) -> list[str]:
    lines = [
        f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}",
        f"Content-Type: {content_type}",
        "Cache-Control: no-cache, private",
    ]
    lines.extend(f"{k}: {v}" for k, v in extra.items())
    if not keep_alive:
        lines.append("Connection: close")
    return lines


class HttpServer:
    """One listening socket bound to 127.0.0.1 that dispatches every request to `handler`."""

    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.handler = handler
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        if self._server is not None:
            return
        self._server = await asyncio.start_server(
            self._serve_connection,
            self.host,
            self.port,
            ssl=self.ssl_context,
            reuse_address=True,
            backlog=1024,
            limit=MAX_HEADER_BYTES,
        )
        # Remember the kernel-chosen port so a later restart (after "unreachable") rebinds it.
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close the listener and every open connection: clients then see connection refused."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for writer in list(self._connections):
            # abort(), not close(): a TLS close waits for the peer's close_notify, which an idle
            # pooled client connection never sends.
            writer.transport.abort()
        # Let connection handlers notice the closed transports and finish on their own; a task
        # cancelled at loop shutdown instead makes asyncio's stream machinery log spurious errors.
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), timeout=2)

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._server is None:
            # Accepted before ``stop`` but through its TLS handshake only now: stop's sweep of open
            # connections missed it, and a stopped server serves nobody.
            writer.transport.abort()
            return
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._connections.add(writer)
        try:
            while True:
                try:
                    request = await _read_request(reader)
                except (BadRequest, ValueError):
                    writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    break
                if request is None:
                    break
                keep_alive = request.header("connection").lower() != "close"
                result = await self.handler(request)
                if isinstance(result, StreamResponse):
                    await self._stream(reader, writer, request, result)
                    break
                head = _head(result.status, result.content_type, result.headers, keep_alive)
                head.append(f"Content-Length: {len(result.body)}")
                writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + result.body)
                await writer.drain()
                if not keep_alive:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, OSError):
            pass
        finally:
            self._connections.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    async def _stream(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: Request,
        result: StreamResponse,
    ) -> None:
        loop = asyncio.get_running_loop()
        disconnected: asyncio.Future[None] = loop.create_future()
        request.disconnected = disconnected

        async def watch_peer() -> None:
            # A streaming client never sends more bytes; EOF here means it hung up.
            with contextlib.suppress(Exception):
                await reader.read(1)
            if not disconnected.done():
                disconnected.set_result(None)

        peer_task = asyncio.create_task(watch_peer())
        head = _head(result.status, result.content_type, result.headers, keep_alive=False)
        head.append("Transfer-Encoding: chunked")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        try:
            async for chunk in result.chunks:
                if disconnected.done():
                    break
                if chunk:
                    writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    await writer.drain()
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        finally:
            peer_task.cancel()
            with contextlib.suppress(Exception):
                await result.chunks.aclose()  # type: ignore[attr-defined]
