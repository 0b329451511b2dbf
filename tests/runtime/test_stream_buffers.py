"""A stream hands back the pages of its TLS read buffer (``kube.transport``, ``heap.discard_pages``):
uvloop reads a TLS connection through a 256 KB buffer of its own, and one carved from resident
pages stays resident though a watch touches a few KB of it. A watch whose connection's buffer is
resident when it starts leaves it (nearly) not resident, and its events still arrive.

Run on uvloop (``eventloop.run``), as services run: asyncio's own loop has no such buffer."""

from __future__ import annotations

import asyncio
import ctypes
import gc
import mmap
from typing import Any

import pytest

from threeport_kubesim.control import ClusterInfo
from threeport_runtime import eventloop
from threeport_runtime.heap import discard_pages
from threeport_runtime.kube import transport as transport_module
from threeport_runtime.kube.transport import Transport
from threeport_runtime.testing import wait_until

from .test_kube import config_map, connection_to

PATH = "/api/v1/namespaces/default/configmaps"
WITHIN = 30.0

_libc = ctypes.CDLL(None)
pytestmark = pytest.mark.skipif(not hasattr(_libc, "mincore"), reason="no mincore(2) to count resident pages")


def resident_bytes(view: memoryview) -> int:
    """How much of the whole pages inside ``view`` is resident (``mincore``)."""
    start = ctypes.addressof(ctypes.c_char.from_buffer(view))
    first = -(-start // mmap.PAGESIZE) * mmap.PAGESIZE
    pages = (start + view.nbytes) // mmap.PAGESIZE - first // mmap.PAGESIZE
    flags = (ctypes.c_ubyte * pages)()
    assert _libc.mincore(ctypes.c_void_p(first), ctypes.c_size_t(pages * mmap.PAGESIZE), flags) == 0
    return sum(flag & 1 for flag in flags) * mmap.PAGESIZE


def tls_protocols() -> dict[int, Any]:
    """uvloop's TLS protocol objects alive in this process, by id (the emulator's control client
    has asyncio's own)."""
    return {id(obj): obj for obj in gc.get_objects()
            if type(obj).__name__ == "SSLProtocol" and type(obj).__module__.startswith("uvloop")}


def test_discarded_pages_are_no_longer_resident_and_read_as_zeros() -> None:
    buffer = bytearray(b"\1" * (64 * mmap.PAGESIZE))
    view = memoryview(buffer)
    assert resident_bytes(view) >= 62 * mmap.PAGESIZE
    assert discard_pages(view) >= 63 * mmap.PAGESIZE
    assert resident_bytes(view) == 0
    assert buffer.count(1) < 2 * mmap.PAGESIZE  # only the partial pages at either end kept theirs


def address(view: memoryview) -> int:
    return ctypes.addressof(ctypes.c_char.from_buffer(view))


def test_a_watch_hands_back_its_connections_read_buffer_and_its_events_still_arrive(
    cluster: ClusterInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    handed: list[memoryview] = []

    def resident_then_discarded(view: memoryview) -> int:
        # As when the buffer was carved from pages a burst of work left resident (not up to us:
        # the allocator decides), then what the transport asks for.
        view[:] = b"\1" * view.nbytes
        assert resident_bytes(view) > view.nbytes * 9 // 10
        handed.append(view)
        return discard_pages(view)

    monkeypatch.setattr(transport_module, "discard_pages", resident_then_discarded)
    eventloop.run(_watch(cluster, handed))


async def _watch(cluster: ClusterInfo, handed: list[memoryview]) -> None:
    transport = Transport(connection_to(cluster), call_timeout=5.0)
    try:
        await transport.call("POST", PATH, what="creating a ConfigMap", body=config_map("first"))
        calls = tls_protocols()
        names: list[str] = []

        async def watch() -> None:
            query = [("watch", "true"), ("timeoutSeconds", "60")]
            async for event in transport.stream(PATH, what="watching", query=query):
                names.append(event["object"]["metadata"]["name"])
                if names[-1] == "second":
                    return

        watching = asyncio.create_task(watch())

        async def heard_first() -> bool:
            return names == ["first"]

        await wait_until(heard_first, within=WITHIN, what="the watch to list what is there")
        # The buffer handed back is the watch connection's own (not the call's), and what the
        # watch read since touched a page or two of it.
        (stream,) = [protocol for key, protocol in tls_protocols().items() if key not in calls]
        assert [address(view) for view in handed] == [address(stream.get_buffer(0))]
        assert resident_bytes(handed[0]) <= 4 * mmap.PAGESIZE
        await transport.call("POST", PATH, what="creating a ConfigMap", body=config_map("second"))
        await asyncio.wait_for(watching, WITHIN)
        assert names == ["first", "second"]
    finally:
        await transport.close()
