"""What every generated client shares: connecting, credentials, closing and ``wait_ready``.

The generated ``Client`` and ``AsyncClient`` subclass these and only add one attribute per
proto service (``_attach``) and the resource index (``_index``).
"""

from __future__ import annotations

import os
from collections.abc import Collection
from types import TracebackType
from typing import Self

import grpc
import grpc.aio
from google.protobuf.message import Message

from ._channel import (
    Metadata,
    PemSource,
    TlsSetting,
    channel_credentials,
    client_metadata,
    open_aio_channel,
    open_channel,
)
from ._index import ResourceIndex
from ._invoker import AsyncInvoker, Invoker
from ._retry import RetryPolicy
from ._waiting import DEFAULT_WAIT_TIMEOUT, wait_for, wait_for_async
from .readiness import DEFAULT_POLL_INTERVAL

DEFAULT_RETRY = RetryPolicy()


def _target(target: str | None, channel: object | None) -> str:
    if channel is not None:
        return target or ""
    chosen = target or os.environ.get("THREEPORT_ADDRESS", "")
    if not chosen:
        raise ValueError("give the server address (host:port) or set THREEPORT_ADDRESS")
    return chosen


class BaseClient:
    """A synchronous connection to Threeport.

    Args:
        target: ``host:port`` of the API gateway (or of a service, for service-to-service
            calls); defaults to ``$THREEPORT_ADDRESS``.
        token: an API token, sent as ``authorization: Bearer <token>``.
        tls: ``False`` for plaintext, ``True`` to verify with the system CAs, or a CA bundle
            (path or PEM bytes).
        client_cert, client_key: a client certificate and key (path or PEM bytes) for mTLS.
        metadata: extra metadata sent on every call, e.g. ``[("authorization", "Service ...")]``.
        retry: how UNAVAILABLE is retried for calls that are safe to repeat, and how long a
            call the gateway's rate limit refused is repeated (until its ``timeout``, or one
            minute without one; ``RetryPolicy.throttled_budget``). ``NO_RETRY`` turns both off.
        auto_request_id: fill an empty ``request_id`` with a uuid, which makes creates safe to
            retry. Turn it off to send requests exactly as given.
        channel: use this channel instead of opening one (``tls`` etc. are then ignored); the
            client does not close a channel it did not open.
    """

    _index: ResourceIndex

    def __init__(
        self,
        target: str | None = None,
        *,
        token: str | None = None,
        tls: TlsSetting = False,
        client_cert: PemSource | None = None,
        client_key: PemSource | None = None,
        metadata: Metadata = (),
        retry: RetryPolicy = DEFAULT_RETRY,
        auto_request_id: bool = True,
        channel: grpc.Channel | None = None,
    ) -> None:
        self.target = _target(target, channel)
        self._owns_channel = channel is None
        self.channel = channel or open_channel(self.target, channel_credentials(tls, client_cert, client_key))
        self._invoker = Invoker(
            self.channel,
            metadata=client_metadata(token, metadata),
            retry=retry,
            auto_request_id=auto_request_id,
        )
        self._attach(self._invoker)

    def _attach(self, invoker: Invoker) -> None:
        """Creates the sub-clients; the generated subclass implements it."""

    def close(self) -> None:
        if self._owns_channel:
            self.channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def wait_ready(
        self,
        name: str,
        *,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        terminal_reasons: Collection[str] = (),
    ) -> Message:
        """Waits until the resource ``name`` is ready and returns it; see ``threeport.sdk.readiness``.

        The resource type comes from the name (``projects/acme/applications/shop``). Raises
        ``WaitTimeoutError``, ``ResourceFailedError``, ``NotFoundError`` or another ``ApiError``.
        """
        resource_type = self._index.for_name(name)
        return wait_for(
            self._invoker,
            name,
            resource_type,
            resource_type.message_type,
            timeout=timeout,
            poll_interval=poll_interval,
            terminal_reasons=terminal_reasons,
        )


class BaseAsyncClient:
    """An ``asyncio`` connection to Threeport; arguments as for the synchronous ``Client``.

    Create it inside a running event loop, and ``await client.close()`` (or use
    ``async with``) when done.
    """

    _index: ResourceIndex

    def __init__(
        self,
        target: str | None = None,
        *,
        token: str | None = None,
        tls: TlsSetting = False,
        client_cert: PemSource | None = None,
        client_key: PemSource | None = None,
        metadata: Metadata = (),
        retry: RetryPolicy = DEFAULT_RETRY,
        auto_request_id: bool = True,
        channel: grpc.aio.Channel | None = None,
    ) -> None:
        self.target = _target(target, channel)
        self._owns_channel = channel is None
        self.channel = channel or open_aio_channel(
            self.target, channel_credentials(tls, client_cert, client_key)
        )
        self._invoker = AsyncInvoker(
            self.channel,
            metadata=client_metadata(token, metadata),
            retry=retry,
            auto_request_id=auto_request_id,
        )
        self._attach(self._invoker)

    def _attach(self, invoker: AsyncInvoker) -> None:
        """Creates the sub-clients; the generated subclass implements it."""

    async def close(self) -> None:
        if self._owns_channel:
            await self.channel.close(None)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.close()

    async def wait_ready(
        self,
        name: str,
        *,
        timeout: float = DEFAULT_WAIT_TIMEOUT,  # noqa: ASYNC109 (a deadline for the server too)
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        terminal_reasons: Collection[str] = (),
    ) -> Message:
        """Waits until the resource ``name`` is ready and returns it; see ``threeport.sdk.readiness``."""
        resource_type = self._index.for_name(name)
        return await wait_for_async(
            self._invoker,
            name,
            resource_type,
            resource_type.message_type,
            timeout=timeout,
            poll_interval=poll_interval,
            terminal_reasons=terminal_reasons,
        )
