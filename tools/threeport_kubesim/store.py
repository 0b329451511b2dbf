"""In-memory object storage for one cluster: compact JSON bytes, a resourceVersion clock, a bounded
event history for watch resumption, and fan-out to live watchers and in-process listeners.

Objects are kept as serialized JSON (a few KB each instead of tens of KB of Python dicts) because
one process holds tens of thousands of them; reads decode on demand, lists and watches stream the
stored bytes directly.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from threeport_kubesim.selectors import FieldMatcher, LabelSelector

GroupResource = tuple[str, str]
ObjectKey = tuple[str, str]  # (namespace or "", name)


def dumps(obj: dict[str, Any]) -> bytes:
    """Compact JSON. orjson (C, several times faster: every write, read and watch event goes
    through here) unless the object holds what it refuses (an integer beyond 64 bits)."""
    try:
        return orjson.dumps(obj)
    except TypeError:
        return json.dumps(obj, separators=(",", ":")).encode()


# Objects above this size are kept zlib-compressed: API objects are repetitive JSON and shrink
# 2-3x, which is what lets 100 clusters x 100 Deployments fit the memory budget.
COMPRESS_ABOVE = 512
_JSON_OPEN_BRACE = 0x7B
# The change-log event of a resource type whose objects all went at once (its CRD was deleted).
DROPPED = "DROPPED"


def pack(raw: bytes) -> bytes:
    return zlib.compress(raw, 1) if len(raw) > COMPRESS_ABOVE else raw


@dataclass(slots=True)
class StoredObject:
    packed: bytes
    rv: int
    labels: dict[str, str] | None

    @property
    def raw(self) -> bytes:
        packed = self.packed
        return packed if packed[0] == _JSON_OPEN_BRACE else zlib.decompress(packed)

    def decode(self) -> dict[str, Any]:
        result: dict[str, Any] = orjson.loads(self.raw)
        return result


@dataclass(slots=True)
class HistoryEntry:
    """One change in the window a watch may resume from. Only deletions keep their bytes: for other
    changes a resumed watch is served the newest version, which is what a compacting watch cache
    delivers and keeps memory bounded."""

    rv: int
    event_type: str
    group_resource: GroupResource
    key: ObjectKey
    tombstone: bytes | None


@dataclass(slots=True)
class Watcher:
    group_resource: GroupResource
    namespace: str | None
    labels: LabelSelector
    fields: FieldMatcher | None
    queue: deque[bytes] = field(default_factory=deque)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False
    max_backlog: int = 20000

    def matches(self, obj: dict[str, Any] | None, labels: dict[str, str] | None) -> bool:
        if obj is None:
            return False
        if not self.labels.empty and not self.labels.matches(labels):
            return False
        return self.fields is None or self.fields(obj)

    def push(self, line: bytes) -> None:
        if self.closed:
            return
        if len(self.queue) >= self.max_backlog:
            # A watcher this far behind is dropped, as kube-apiserver does; the client re-lists.
            self.closed = True
        else:
            self.queue.append(line)
        self.wakeup.set()


def _filtered_modification(was_matching: bool, now_matches: bool) -> str:
    """What a selector-filtered watcher sees of a modification: objects enter and leave its view."""
    if was_matching:
        return "MODIFIED" if now_matches else "DELETED"
    return "ADDED" if now_matches else ""


def event_line(event_type: str, raw: bytes) -> bytes:
    return b'{"type":"' + event_type.encode() + b'","object":' + raw + b"}\n"


Listener = Callable[[GroupResource, str, dict[str, Any], dict[str, Any] | None], None]


class ChangeLog(Protocol):
    """Where every stored change is also written before anyone is told of it (see journal.py)."""

    def record(self, rv: int, event_type: str, group_resource: GroupResource, raw: bytes) -> None: ...


class ObjectStore:
    def __init__(self, history_size: int = 2000) -> None:
        self.rv = 1
        self.buckets: dict[GroupResource, dict[ObjectKey, StoredObject]] = {}
        self.history: deque[HistoryEntry] = deque(maxlen=history_size)
        self.watchers: dict[GroupResource, list[Watcher]] = {}
        self.listeners: list[Listener] = []
        self.journal: ChangeLog | None = None
        # Changes before this version are not in the history (the store was restored from disk).
        self.resumable_from = 0

    def next_rv(self) -> int:
        self.rv += 1
        return self.rv

    @property
    def oldest_resumable_rv(self) -> int:
        """Watches from an RV older than this have missed events that fell out of the window."""
        if self.history.maxlen is not None and len(self.history) == self.history.maxlen:
            return max(self.history[0].rv, self.resumable_from)
        return self.resumable_from

    def get(self, group_resource: GroupResource, namespace: str, name: str) -> StoredObject | None:
        return self.buckets.get(group_resource, {}).get((namespace, name))

    def get_object(self, group_resource: GroupResource, namespace: str, name: str) -> dict[str, Any] | None:
        stored = self.get(group_resource, namespace, name)
        return stored.decode() if stored is not None else None

    def items(
        self, group_resource: GroupResource, namespace: str | None = None
    ) -> list[tuple[ObjectKey, StoredObject]]:
        bucket = self.buckets.get(group_resource, {})
        if namespace is None:
            return sorted(bucket.items())
        return sorted((k, v) for k, v in bucket.items() if k[0] == namespace)

    def iter_objects(self, group_resource: GroupResource, namespace: str | None = None) -> Iterator[dict[str, Any]]:
        for _, stored in self.items(group_resource, namespace):
            yield stored.decode()

    def count(self, group_resource: GroupResource) -> int:
        return len(self.buckets.get(group_resource, {}))

    def write(self, group_resource: GroupResource, obj: dict[str, Any], old: dict[str, Any] | None) -> StoredObject:
        """Store a created or updated object, stamping the next resourceVersion into it."""
        metadata = obj["metadata"]
        rv = self.next_rv()
        metadata["resourceVersion"] = str(rv)
        key = (metadata.get("namespace", ""), metadata["name"])
        labels = metadata.get("labels") or None
        raw = dumps(obj)
        stored = StoredObject(pack(raw), rv, labels)
        self.buckets.setdefault(group_resource, {})[key] = stored
        event_type = "ADDED" if old is None else "MODIFIED"
        if self.journal is not None:
            self.journal.record(rv, event_type, group_resource, raw)
        self.history.append(HistoryEntry(rv, event_type, group_resource, key, None))
        self._dispatch(group_resource, event_type, obj, labels, old, raw)
        for listener in self.listeners:
            listener(group_resource, event_type, obj, old)
        return stored

    def remove(self, group_resource: GroupResource, obj: dict[str, Any]) -> None:
        metadata = obj["metadata"]
        key = (metadata.get("namespace", ""), metadata["name"])
        bucket = self.buckets.get(group_resource, {})
        if bucket.pop(key, None) is None:
            return
        metadata["resourceVersion"] = str(self.next_rv())
        raw = dumps(obj)
        if self.journal is not None:
            self.journal.record(self.rv, "DELETED", group_resource, raw)
        self.history.append(HistoryEntry(self.rv, "DELETED", group_resource, key, pack(raw)))
        self._dispatch(group_resource, "DELETED", obj, metadata.get("labels"), obj, raw)
        for listener in self.listeners:
            listener(group_resource, "DELETED", obj, obj)

    def drop_resource(self, group_resource: GroupResource) -> None:
        for watcher in self.watchers.pop(group_resource, []):
            watcher.closed = True
            watcher.wakeup.set()
        if self.buckets.pop(group_resource, None) is not None and self.journal is not None:
            self.journal.record(self.rv, DROPPED, group_resource, b"null")

    def _dispatch(
        self,
        group_resource: GroupResource,
        event_type: str,
        obj: dict[str, Any],
        labels: dict[str, str] | None,
        old: dict[str, Any] | None,
        raw: bytes,
    ) -> None:
        watchers = self.watchers.get(group_resource)
        if not watchers:
            return
        namespace = obj["metadata"].get("namespace", "")
        old_labels = (old or {}).get("metadata", {}).get("labels") if old is not None else None
        lines: dict[str, bytes] = {}
        for watcher in watchers:
            if watcher.namespace is not None and watcher.namespace != namespace:
                continue
            now_matches = watcher.matches(obj, labels)
            if event_type == "MODIFIED":
                kind = _filtered_modification(watcher.matches(old, old_labels), now_matches)
            else:
                kind = event_type if now_matches else ""
            if kind:
                line = lines.get(kind)
                if line is None:
                    line = lines[kind] = event_line(kind, raw)
                watcher.push(line)

    def add_watcher(self, watcher: Watcher) -> None:
        self.watchers.setdefault(watcher.group_resource, []).append(watcher)

    def remove_watcher(self, watcher: Watcher) -> None:
        watchers = self.watchers.get(watcher.group_resource, [])
        if watcher in watchers:
            watchers.remove(watcher)

    def changes_since(
        self, group_resource: GroupResource, since_rv: int, namespace: str | None
    ) -> list[tuple[str, bytes, dict[str, Any]]]:
        """Collapsed changes after `since_rv`: each object once, at its newest version, in RV order."""
        first_type: dict[ObjectKey, str] = {}
        last: dict[ObjectKey, HistoryEntry] = {}
        for entry in self.history:
            if entry.rv <= since_rv or entry.group_resource != group_resource:
                continue
            if namespace is not None and entry.key[0] != namespace:
                continue
            first_type.setdefault(entry.key, entry.event_type)
            last[entry.key] = entry
        result: list[tuple[str, bytes, dict[str, Any]]] = []
        for key, entry in sorted(last.items(), key=lambda item: item[1].rv):
            created_in_window = first_type[key] == "ADDED"
            if entry.event_type == "DELETED":
                if created_in_window or entry.tombstone is None:
                    continue
                tombstone = StoredObject(entry.tombstone, entry.rv, None).raw
                result.append(("DELETED", tombstone, json.loads(tombstone)))
                continue
            stored = self.get(group_resource, *key)
            if stored is None:
                continue
            result.append(("ADDED" if created_in_window else "MODIFIED", stored.raw, stored.decode()))
        return result
