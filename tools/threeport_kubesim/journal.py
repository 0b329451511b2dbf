"""Write-through persistence of clusters in a state directory, so that even `kill -9` loses
nothing: a restarted emulator serves the same clusters (port, token, CA) with the same objects,
resourceVersions keep moving forward from where they were, and watches resume from the versions
their clients last saw.

Layout, one directory per cluster (mode 0700, files 0600: they hold the token and CA key):

    STATE_DIR/<cluster>/cluster.json   the cluster's record (written once, when it is created)
    STATE_DIR/<cluster>/journal        one JSON line per stored change

Each change is appended with one unbuffered write before watchers or the client hear of it, so it
is in the kernel's page cache, which outlives the process. A journal longer than twice the live
objects (and COMPACT_MIN lines) is rewritten as a BASE line plus the live objects; changes before
a BASE cannot be resumed from (410 Expired, as after etcd compaction). A torn last line (a crash in
the middle of a write) is dropped at load.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from threeport_kubesim.store import DROPPED, GroupResource, HistoryEntry, ObjectKey, ObjectStore, pack

RECORD = "cluster.json"
JOURNAL = "journal"
BASE = "BASE"
OBJECT = "OBJECT"
COMPACT_MIN = 20_000


def _line(rv: int, event_type: str, group_resource: GroupResource, raw: bytes) -> bytes:
    head = json.dumps({"rv": rv, "type": event_type, "gr": "/".join(group_resource)}, separators=(",", ":"))
    return head[:-1].encode() + b',"object":' + raw + b"}\n"


class ClusterJournal:
    """The append-only change log of one cluster (a store's `journal`)."""

    def __init__(self, directory: Path, store: ObjectStore) -> None:
        self.directory = directory
        self.store = store
        self.path = directory / JOURNAL
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._lines = 0

    def record(self, rv: int, event_type: str, group_resource: GroupResource, raw: bytes) -> None:
        os.write(self._fd, _line(rv, event_type, group_resource, raw))
        self._lines += 1
        if self._lines >= COMPACT_MIN and self._lines % 1000 == 0:
            live = sum(len(bucket) for bucket in self.store.buckets.values())
            if self._lines > 2 * live:
                self.compact()

    def compact(self) -> None:
        """Rewrite the journal as the live objects, atomically."""
        temporary = self.path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        lines = 1
        try:
            os.write(fd, _line(self.store.rv, BASE, ("", ""), b"null"))
            for group_resource, bucket in self.store.buckets.items():
                for stored in bucket.values():
                    os.write(fd, _line(stored.rv, OBJECT, group_resource, stored.raw))
                    lines += 1
        finally:
            os.close(fd)
        os.replace(temporary, self.path)
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND, 0o600)
        self._lines = lines

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def create_directory(state_dir: Path, name: str) -> Path:
    """A fresh directory for a new cluster (whatever an earlier cluster of that name left goes)."""
    directory = state_dir / name
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, mode=0o700)
    return directory


def write_record(directory: Path, record: dict[str, Any]) -> None:
    temporary = directory / (RECORD + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as output:
        json.dump(record, output)
    os.replace(temporary, directory / RECORD)


def saved_clusters(state_dir: Path) -> list[tuple[Path, dict[str, Any]]]:
    """(directory, record) of every cluster kept in `state_dir`; directories of clusters whose
    creation never finished (no record) are removed."""
    found: list[tuple[Path, dict[str, Any]]] = []
    if not state_dir.is_dir():
        return found
    for directory in sorted(p for p in state_dir.iterdir() if p.is_dir()):
        record = directory / RECORD
        if not record.exists():
            shutil.rmtree(directory, ignore_errors=True)
            continue
        found.append((directory, json.loads(record.read_text())))
    return found


@dataclass
class Replay:
    """A cluster's state rebuilt from its journal."""

    objects: dict[GroupResource, dict[ObjectKey, dict[str, Any]]] = field(default_factory=dict)
    history: list[HistoryEntry] = field(default_factory=list)
    rv: int = 0
    resumable_from: int = 0


def replay(directory: Path) -> Replay:
    result = Replay()
    path = directory / JOURNAL
    if not path.exists():
        return result
    data = path.read_bytes()
    complete = data.rfind(b"\n") + 1
    if complete < len(data):
        os.truncate(path, complete)  # the torn write of a crash
    for line in data[:complete].splitlines():
        entry = json.loads(line)
        rv, event_type = int(entry["rv"]), entry["type"]
        result.rv = max(result.rv, rv)
        if event_type == BASE:
            result.objects.clear()
            result.history.clear()
            result.resumable_from = rv
            continue
        group, _, resource = entry["gr"].partition("/")
        group_resource = (group, resource)
        if event_type == DROPPED:
            result.objects.pop(group_resource, None)
            continue
        obj = entry["object"]
        metadata = obj["metadata"]
        key = (metadata.get("namespace", ""), metadata["name"])
        bucket = result.objects.setdefault(group_resource, {})
        if event_type == "DELETED":
            bucket.pop(key, None)
            tombstone = pack(json.dumps(obj, separators=(",", ":")).encode())
            result.history.append(HistoryEntry(rv, event_type, group_resource, key, tombstone))
            continue
        bucket[key] = obj
        if event_type != OBJECT:
            result.history.append(HistoryEntry(rv, event_type, group_resource, key, None))
    return result
