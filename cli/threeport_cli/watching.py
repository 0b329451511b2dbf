"""``get -w``: the current objects as a table, then one line per change, for as long as you like.

The server's Watch sends the current matches, a HEARTBEAT that marks the end of that list, then
changes, each with a ``resource_version`` (its change-stream position). When the connection
breaks (a gateway or a service restarted, a network blip) this follower reconnects by itself
with the last position, as kubectl does with resourceVersion, so no change is lost. It remembers
the etag it printed for each object, so a change it already showed is never printed twice; if
the server no longer keeps that position (OUT_OF_RANGE), it starts a new watch and prints only
what differs from what it showed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from google.protobuf.message import Message

from threeport.common.v1alpha1 import watch_pb2
from threeport.sdk import (
    ApiError,
    CancelledError,
    DeadlineExceededError,
    InternalError,
    OutOfRangeError,
    UnavailableError,
    UnknownError,
)
from threeport.sdk._index import ResourceType
from threeport_cli.printers import column_widths, field_value, header, print_resources, render_table, row

HEARTBEAT = watch_pb2.WATCH_EVENT_TYPE_HEARTBEAT
DELETED = watch_pb2.WATCH_EVENT_TYPE_DELETED
# Failures a watch outlives: the other end restarted or went away for a while.
TRANSIENT = (UnavailableError, DeadlineExceededError, CancelledError, InternalError, UnknownError)
FIRST_PAUSE, LONGEST_PAUSE = 0.5, 10.0

Stream = Callable[[str], Iterator[Any]]


class Follower:
    """Prints a watch's objects and changes in one output format, across reconnects."""

    def __init__(self, resource_type: ResourceType, output: str, stream: Stream,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.resource_type = resource_type
        self.output = output
        self.stream = stream
        self.sleep = sleep
        self.shown: dict[str, str] = {}  # name -> etag of what was printed last
        self.position = ""
        self.widths: list[int] | None = None
        self.printed_any = False

    def run(self) -> None:
        pause = FIRST_PAUSE
        while True:
            try:
                self._follow()
            except OutOfRangeError:
                self.position = ""  # Too old: start over; only differences are printed.
                continue
            except TRANSIENT as error:
                if pause == FIRST_PAUSE:
                    print(f"watch interrupted ({_why(error)}); reconnecting", file=sys.stderr, flush=True)
                self.sleep(pause)
                pause = min(pause * 2, LONGEST_PAUSE)
                continue
            pause = FIRST_PAUSE  # The server ended the stream cleanly (its deadline): go on.

    def _follow(self) -> None:
        snapshot: list[Message] | None = None if self.position else []
        for event in self.stream(self.position):
            if event.type == HEARTBEAT:
                if snapshot is not None:
                    self._show_snapshot(snapshot)
                    snapshot = None
                if event.resource_version:
                    self.position = event.resource_version
                continue
            item = getattr(event, self.resource_type.watch_field)
            if snapshot is not None:
                snapshot.append(item)
                continue
            self._show_change(event.type, item)
            if event.resource_version:
                self.position = event.resource_version

    def _show_snapshot(self, items: list[Message]) -> None:
        if not self.printed_any:
            self.printed_any = True
            if self.output in ("table", "wide"):
                table = [header(items, self.output == "wide")] + [row(i, self.output == "wide") for i in items]
                self.widths = column_widths(table)
            print_resources(items, self.output)
            sys.stdout.flush()
            self.shown = {_name(i): _etag(i) for i in items}
            return
        # A new watch after the old position was lost: print only what changed meanwhile.
        current = {_name(i): i for i in items}
        for name in [n for n in self.shown if n not in current]:
            gone = self.resource_type.message_type(name=name)
            self._show_change(DELETED, gone)
        for item in items:
            self._show_change(watch_pb2.WATCH_EVENT_TYPE_MODIFIED, item)

    def _show_change(self, kind: int, item: Message) -> None:
        name = _name(item)
        if kind == DELETED:
            if name not in self.shown:
                return  # Never shown: nothing to take back.
            del self.shown[name]
        elif self.shown.get(name) == _etag(item):
            return  # Already shown at this version.
        else:
            self.shown[name] = _etag(item)
        if self.output in ("table", "wide"):
            cells = row(item, self.output == "wide", state="DELETED" if kind == DELETED else None)
            widths = self.widths or column_widths([cells])
            widths = [max(w, len(c)) for w, c in zip(widths, cells, strict=False)]
            print(render_table([cells], widths), flush=True)
        elif self.output == "yaml":
            print("---", flush=True)
            print_resources([item], self.output, single=True)
        else:
            print_resources([item], self.output, single=True)
        sys.stdout.flush()


def _why(error: ApiError) -> str:
    return error.message or type(error).__name__


def _name(item: Message) -> str:
    return str(field_value(item, "name") or "")


def _etag(item: Message) -> str:
    return str(field_value(item, "etag") or "")
