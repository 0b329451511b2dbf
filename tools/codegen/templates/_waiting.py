"""Connects the readiness loops to a resource type's Get and Watch methods."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Collection, Iterator
from typing import TypeVar

from google.protobuf.message import Message

from ._index import ResourceType, parent_of
from ._invoker import AsyncInvoker, Invoker
from ._requests import build_request, fields_present
from .readiness import DEFAULT_POLL_INTERVAL, wait_ready, wait_ready_async

ResourceT = TypeVar("ResourceT", bound=Message)

DEFAULT_WAIT_TIMEOUT = 300.0


def _get_request(resource_type: ResourceType, name: str) -> Message:
    if resource_type.get is None:
        raise TypeError(f"{resource_type.type_name} has no Get method, so it cannot be waited for")
    return build_request(resource_type.get.request_type, None, {"name": name})


def _watch_request(resource_type: ResourceType, name: str) -> Message | None:
    if resource_type.watch is None:
        return None
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    wanted = {"parent": parent_of(name), "filter": f'name = "{quoted}"'}
    request_type = resource_type.watch.request_type
    return build_request(request_type, None, fields_present(request_type, wanted))


def wait_for(
    invoker: Invoker,
    name: str,
    resource_type: ResourceType,
    message_type: type[ResourceT],
    *,
    timeout: float = DEFAULT_WAIT_TIMEOUT,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    terminal_reasons: Collection[str] = (),
) -> ResourceT:
    """Waits until ``name`` is ready, using the type's Get and (when it has one) Watch."""
    get_request = _get_request(resource_type, name)
    watch_request = _watch_request(resource_type, name)
    get, watch = resource_type.get, resource_type.watch
    assert get is not None  # _get_request raised otherwise

    def fetch(remaining: float) -> ResourceT:
        return invoker.unary(get.path, get_request, message_type, idempotent=True, timeout=remaining)

    def follow(remaining: float) -> Iterator[Message]:
        assert watch is not None and watch_request is not None
        return invoker.stream(
            watch.path, watch_request, watch.response_type, idempotent=True, timeout=remaining
        )

    return wait_ready(
        name,
        get=fetch,
        watch=follow if watch_request is not None else None,
        resource_field=resource_type.watch_field,
        timeout=timeout,
        poll_interval=poll_interval,
        terminal_reasons=terminal_reasons,
    )


async def wait_for_async(
    invoker: AsyncInvoker,
    name: str,
    resource_type: ResourceType,
    message_type: type[ResourceT],
    *,
    timeout: float = DEFAULT_WAIT_TIMEOUT,  # noqa: ASYNC109 (a deadline for the server too)
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    terminal_reasons: Collection[str] = (),
) -> ResourceT:
    """The ``asyncio`` form of :func:`wait_for`."""
    get_request = _get_request(resource_type, name)
    watch_request = _watch_request(resource_type, name)
    get, watch = resource_type.get, resource_type.watch
    assert get is not None  # _get_request raised otherwise

    async def fetch(remaining: float) -> ResourceT:
        return await invoker.unary(get.path, get_request, message_type, idempotent=True, timeout=remaining)

    def follow(remaining: float) -> AsyncGenerator[Message, None]:
        assert watch is not None and watch_request is not None
        return invoker.stream(
            watch.path, watch_request, watch.response_type, idempotent=True, timeout=remaining
        )

    return await wait_ready_async(
        name,
        get=fetch,
        watch=follow if watch_request is not None else None,
        resource_field=resource_type.watch_field,
        timeout=timeout,
        poll_interval=poll_interval,
        terminal_reasons=terminal_reasons,
    )
