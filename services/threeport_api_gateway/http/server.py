"""The HTTP/JSON listener of the gateway (``THREEPORT_GATEWAY_HTTP_LISTEN_ADDRESS``).

Each request is matched against the route table, turned into the RPC's request message and
sent to this gateway's own gRPC server over a loopback channel with the caller's
``Authorization`` header, so authentication, authorization, rate limits, audit and errors are
the gRPC ones, applied once. Unary answers are the response message as JSON; server streams
(``...:watch``) are newline-delimited JSON, one ``{"result": ...}`` per message and a final
``{"error": ...}`` if the stream fails. With the gateway's TLS settings the listener serves
HTTPS (and requires client certificates when the gRPC side does).
"""

from __future__ import annotations

import json
import logging
import ssl
from typing import Any

import grpc
from aiohttp import web
from google.protobuf.message import Message

from threeport_api_gateway.config import TlsSettings
from threeport_api_gateway.http import bridge
from threeport_api_gateway.http.errors import HttpError, from_rpc_error, from_threeport_error, problem
from threeport_api_gateway.http.messages import build_request, to_json
from threeport_api_gateway.http.routes import NoRoute, Route, RouteTable
from threeport_runtime import http_site
from threeport_runtime.errors import ThreeportError

log = logging.getLogger(__name__)

# The same limit as the gRPC server's messages.
MAX_BODY_BYTES = 16 * 1024 * 1024
_FORWARDED = ("authorization", "traceparent", "tracestate")


class HttpGateway:
    def __init__(self, routes: RouteTable, grpc_target: str, bridge_secret: str, tls: TlsSettings | None = None):
        self._routes = routes
        self._secret = bridge_secret
        self._tls = tls
        self._channel = grpc.aio.insecure_channel(
            grpc_target,
            options=[
                ("grpc.max_receive_message_length", MAX_BODY_BYTES),
                ("grpc.max_send_message_length", MAX_BODY_BYTES),
            ],
        )
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self, listen_address: str) -> int:
        """Binds (port 0 picks a free one) and serves; returns the port."""
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner, self.port = await http_site.serve(app, listen_address, self._ssl_context())
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        await self._channel.close(None)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        try:
            route, variables = self._resolve(request)
            message = build_request(route, variables, request.rel_url.query.items(), await request.read())
            if route.method.server_streaming:
                return await self._stream(request, route, message)
            call = self._channel.unary_unary(
                route.method.path,
                request_serializer=_serialize,
                response_deserializer=route.response_type.FromString,
            )
            try:
                response = await call(message, metadata=self._metadata(request))
            except grpc.aio.AioRpcError as error:
                raise from_rpc_error(error) from None
            return web.json_response(to_json(response))
        except ThreeportError as error:
            return _error_response(from_threeport_error(error))
        except HttpError as error:
            return _error_response(error)
        except Exception:
            log.exception("unexpected error serving HTTP %s %s", request.method, request.rel_url.raw_path)
            return _error_response(problem(grpc.StatusCode.INTERNAL, "internal error"))

    def _resolve(self, request: web.Request) -> tuple[Route, dict[str, str]]:
        try:
            return self._routes.resolve(request.method, request.rel_url.raw_path)
        except NoRoute as missing:
            where = f"{request.method} {request.rel_url.raw_path}"
            if missing.allowed:
                raise problem(
                    grpc.StatusCode.UNIMPLEMENTED,
                    f"{where} is not an API method; this path takes {', '.join(missing.allowed)}",
                    {"Allow": ", ".join(missing.allowed)},
                ) from None
            raise problem(
                grpc.StatusCode.NOT_FOUND,
                f"no API method at {where}; paths look like /v1alpha1/projects/acme/applications",
            ) from None

    async def _stream(self, request: web.Request, route: Route, message: Message) -> web.StreamResponse:
        call = self._channel.unary_stream(
            route.method.path,
            request_serializer=_serialize,
            response_deserializer=route.response_type.FromString,
        )(message, metadata=self._metadata(request))
        try:
            responses = call.__aiter__()
            try:
                # The first message (or the refusal) decides the HTTP status.
                first: Message | None = await anext(responses)
            except StopAsyncIteration:
                first = None
            except grpc.aio.AioRpcError as error:
                raise from_rpc_error(error) from None
            response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
            await response.prepare(request)
            if first is not None:
                await response.write(_line({"result": to_json(first)}))
                try:
                    async for item in responses:
                        await response.write(_line({"result": to_json(item)}))
                except grpc.aio.AioRpcError as error:
                    await response.write(_line(from_rpc_error(error).body))
            await response.write_eof()
            return response
        finally:
            call.cancel()

    def _metadata(self, request: web.Request) -> tuple[tuple[str, str], ...]:
        forwarded = tuple((name, request.headers[name]) for name in _FORWARDED if name in request.headers)
        return forwarded + bridge.headers(self._secret, request.remote or "")

    def _ssl_context(self) -> ssl.SSLContext | None:
        if self._tls is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self._tls.cert_file, self._tls.key_file)
        if self._tls.client_ca_file is not None:
            context.load_verify_locations(self._tls.client_ca_file)
            context.verify_mode = ssl.CERT_REQUIRED
        return context


def _serialize(message: Message) -> bytes:
    return message.SerializeToString()


def _line(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode() + b"\n"


def _error_response(error: HttpError) -> web.Response:
    return web.json_response(error.body, status=error.status, headers=error.headers)
