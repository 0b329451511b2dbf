"""Remembers the message each resource row last converted to, keyed by everything it was made of.

Converting a row to its message (``convert.row_to_message``) runs protobuf's pure-Python
``ParseDict`` over spec, status and conditions: about a millisecond for a Deployment, on every
get, every row of a List and every status write. Most rows are read unchanged many times (a
steady reconcile, a List asked again and again), so each repository keeps, per row uid, a digest of the
row's inputs and the serialized message, deflated against messages it kept before
(``preset_deflate``: a Ready Deployment's ~1.1 KB become ~0.3); a row whose digest matches is served
by inflating and parsing those bytes (``FromString``, C code, a few microseconds).

Correct by construction: the digest covers every column the conversion reads (name, uid,
labels, annotations, times, etag, generation, reconciling, conditions, state, spec and status
as given), serialized as JSON with orjson; rows whose columns orjson cannot serialize are
converted without the cache. A changed input changes the JSON, hence the digest (BLAKE2b,
256 bits), so a changed row is converted again; it never depends on writers bumping the etag.
Dicts with the same items in another order only miss. The documents are JSON from JSONB or from
``MessageToDict``, which hold no NaN (orjson would write it as ``null``). Callers get a new
message each time, so mutating one never touches what is stored.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import orjson
from google.protobuf.message import Message

from threeport_runtime.preset_deflate import PresetDeflate

M = TypeVar("M", bound=Message)

# Entries per repository: issue 14's 10,000 deployments fit, so a List of all of them is served
# from the cache. An entry is the deflated message bytes plus 32 (about 0.2 KB for a Deployment).
DEFAULT_CAPACITY = 20_000


def row_digest(row: Any, spec: Any, status: Any) -> bytes | None:
    """A digest of every input of ``row_to_message``, or None when they are not JSON-serializable."""
    try:
        data = orjson.dumps(
            [
                row.name,
                row.uid,
                row.labels,
                row.annotations,
                row.create_time,
                row.update_time,
                row.delete_time,
                row.etag,
                row.generation,
                row.reconciling,
                row.conditions,
                row.state,
                spec,
                status,
            ]
        )
    except (TypeError, orjson.JSONEncodeError):
        return None
    return hashlib.blake2b(data, digest_size=32).digest()


class MessageCache(Generic[M]):
    """The last message of each row (by uid), least recently used evicted beyond ``capacity``."""

    def __init__(self, message_type: type[M], capacity: int = DEFAULT_CAPACITY):
        self._message_type = message_type
        self._capacity = capacity
        self._entries: OrderedDict[Any, tuple[bytes, bytes]] = OrderedDict()  # uid -> digest, packed message
        self._deflate = PresetDeflate()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def convert(self, row: Any, spec: Any, status: Any, build: Callable[[], M]) -> M:
        """The message of ``row`` with ``spec``/``status``: from the cache when every input is
        the same as when it was stored, else ``build()`` (and stored)."""
        digest = row_digest(row, spec, status) if self._capacity > 0 else None
        if digest is None:
            return build()
        entry = self._entries.get(row.uid)
        if entry is not None and entry[0] == digest:
            self._entries.move_to_end(row.uid)
            self.hits += 1
            return self._message_type.FromString(self._deflate.inflate(entry[1]))
        self.misses += 1
        message = build()
        self._entries[row.uid] = (digest, self._deflate.deflate(message.SerializeToString()))
        self._entries.move_to_end(row.uid)
        if len(self._entries) > self._capacity:
            self._entries.popitem(last=False)
        return message
