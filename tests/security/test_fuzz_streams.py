"""Generated hostile input for every public streaming RPC (the ``Watch`` methods and
``StreamLogs``), sent through the gateway as a project admin, as ``test_fuzz_rpcs`` does for the
unary ones. A stream that is not a watch (a pod's log) may also end cleanly or answer a first line.

A watch answers with its initial list and a HEARTBEAT marking its end, then changes. Whatever
the request holds (bad filters, resume positions that were never given out, names pointing
anywhere, resume positions beyond what Redis can hold), each case must either reach that first
HEARTBEAT or end with a clear status - never INTERNAL, UNKNOWN or DATA_LOSS, never UNAVAILABLE
(everything is up: a client would retry forever), never a stream that hangs without a word
until its deadline - and the gateway and the services must still answer afterwards.

Budget: 12 public Watch methods x 40 cases by default (each case opens a stream, reads to the first
HEARTBEAT and cancels it); THREEPORT_FUZZ_STREAM_EXAMPLES sets the cases per method.
"""

from __future__ import annotations

import os
import time
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings

from tests.security.conftest import Tenants
from tests.security.test_fuzz_rpcs import NEVER, PROJECT, TABLE, requests
from threeport.common.v1alpha1 import watch_pb2
from threeport_api_gateway.access.methods import MethodInfo

EXAMPLES_PER_METHOD = int(os.environ.get("THREEPORT_FUZZ_STREAM_EXAMPLES", "40"))
# Far above the time to the first HEARTBEAT (an initial list of the suite's few resources, or a
# resume that answers at once); a stream still silent by then hangs.
STREAM_DEADLINE = 30.0

STREAMS = sorted(
    (info for info in TABLE.values() if info.policy is not None and not info.internal and info.server_streaming),
    key=lambda info: info.path,
)


def test_every_public_stream_is_covered() -> None:
    """The suite follows the API: a new streaming method is fuzzed without editing this file."""
    names = {info.path.rsplit("/", 1)[-1] for info in STREAMS}
    assert {"WatchApplications", "WatchDeployments", "WatchClusters", "WatchBuilds", "StreamLogs"} <= names, names
    assert all(name.startswith("Watch") or name == "StreamLogs" for name in names), names


def read_to_first_heartbeat(call: Any, request: Message, metadata: Any) -> grpc.StatusCode | None:
    """Opens the stream, reads until the initial list is complete, cancels it. Returns None when
    the HEARTBEAT came, else the status the stream ended with."""
    responses = call(request, metadata=metadata, timeout=STREAM_DEADLINE)
    try:
        watch = True
        for response in responses:
            watch = "type" in response.DESCRIPTOR.fields_by_name
            if not watch or response.type == watch_pb2.WATCH_EVENT_TYPE_HEARTBEAT:
                return None  # a watch's initial list is complete, or another stream answered
        # A watch never ends by itself: an end without a status is a broken stream.
        if watch and "Watch" in type(request).__name__:
            raise AssertionError("the stream ended without a HEARTBEAT or a status")
        return None
    except grpc.RpcError as error:
        return error.code()
    finally:
        responses.cancel()


def response_type(info: MethodInfo) -> Any:
    method = descriptor_pool.Default().FindMethodByName(info.path.lstrip("/").replace("/", "."))
    return message_factory.GetMessageClass(method.output_type)


@pytest.mark.parametrize("info", STREAMS, ids=[info.path.rsplit("/", 1)[-1] for info in STREAMS])
def test_hostile_watch_requests_end_cleanly(info: MethodInfo, tenants: Tenants) -> None:
    token = tenants.tokens[(PROJECT, "admin")]
    metadata = (("authorization", f"Bearer {token}"),)
    channel = grpc.insecure_channel(tenants.server)
    call = channel.unary_stream(info.path, request_serializer=lambda m: m.SerializeToString(),
                                response_deserializer=response_type(info).FromString)

    @settings(max_examples=EXAMPLES_PER_METHOD, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(requests(info))
    def check(request: Message) -> None:
        while True:
            code = read_to_first_heartbeat(call, request, metadata)
            if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
                time.sleep(0.2)  # the gateway's pace (per principal, or open streams), not the input's fault
                continue
            assert code not in NEVER, f"{info.path}: {code} for {request}"
            # Everything is up: UNAVAILABLE would tell the client to retry what can never work.
            assert code != grpc.StatusCode.UNAVAILABLE, f"{info.path}: UNAVAILABLE for {request}"
            hung = code == grpc.StatusCode.DEADLINE_EXCEEDED
            assert not hung, f"{info.path}: no HEARTBEAT in {STREAM_DEADLINE} s for {request}"
            return

    try:
        check()
        # Nothing was taken down: the same stream, asked plainly, still opens.
        plain: Any = info.request_type()
        if "parent" in plain.DESCRIPTOR.fields_by_name:
            plain.parent = f"projects/{PROJECT}"
        code = read_to_first_heartbeat(call, plain, metadata)
        assert code not in NEVER | {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}, code
    finally:
        channel.close()
