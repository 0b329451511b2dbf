"""The size limits of the API and the check every server runs on every request.

One documented limit (protos/README.md, "Size limits"): a request may be at most
``REQUEST_LIMIT_BYTES`` (1 MiB) serialized. Every client - the SDK, ``tptctl``, the gateway's
backend channels, service-to-service channels - reads responses of up to ``CLIENT_RECEIVE_BYTES``
(gRPC's default, 4 MiB), so anything a request stores can always be read back, with room for the
status the controllers add. List pages stop early, with a next page token, once they reach
``LIST_RESPONSE_BYTES``, so a page of large objects never exceeds what a client reads either.

``check_request``, run on every call by the server's layer (``interceptors``), refuses, as
INVALID_ARGUMENT naming the limit or the field:
- a request larger than the limit (the gateway sees proxied calls as bytes and checks their
  length before decoding anything);
- a request with a NUL character in any string (PostgreSQL cannot store one in text or JSONB,
  and no name, label, env value or command needs one).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from google.protobuf.message import Message

from threeport_runtime.errors import FieldViolation, InvalidArgument

REQUEST_LIMIT_BYTES = 1024 * 1024
CLIENT_RECEIVE_BYTES = 4 * 1024 * 1024
LIST_RESPONSE_BYTES = 2 * 1024 * 1024
# What gRPC itself accepts: above the request limit, so that callers get our clear message
# rather than gRPC's, yet bounded so that nobody can make a server buffer without limit.
TRANSPORT_LIMIT_BYTES = 16 * 1024 * 1024

def check_request(request: Any) -> None:
    """Raises InvalidArgument when ``request`` (a message or its raw bytes) breaks a limit."""
    size = len(request) if isinstance(request, bytes) else request.ByteSize() if isinstance(request, Message) else 0
    if size > REQUEST_LIMIT_BYTES:
        raise InvalidArgument(
            f"the request is {size} bytes; the limit is {REQUEST_LIMIT_BYTES} bytes (1 MiB). "
            "Split large content (e.g. manifests or values) into smaller objects",
            metadata={"limit_bytes": str(REQUEST_LIMIT_BYTES), "size_bytes": str(size)},
        )
    if isinstance(request, Message):
        violations = [
            FieldViolation(path, "must not contain NUL characters (\\0)") for path in _paths_with_nul(request, "")
        ]
        if violations:
            raise InvalidArgument.for_fields(violations[:10])


def _paths_with_nul(message: Message, prefix: str) -> Iterator[str]:
    for field, value in message.ListFields():
        path = f"{prefix}.{field.name}" if prefix else field.name
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            items: Any = ((f"{path}[{key!r}]", key, item) for key, item in value.items())
            for entry, key, item in items:
                if isinstance(key, str) and "\0" in key:
                    yield path
                else:
                    yield from _values_with_nul(item, entry)
        elif field.is_repeated:
            for index, item in enumerate(value):
                yield from _values_with_nul(item, f"{path}[{index}]")
        else:
            yield from _values_with_nul(value, path)


def _values_with_nul(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, str):
        if "\0" in value:
            yield path
    elif isinstance(value, Message):
        yield from _paths_with_nul(value, path)
