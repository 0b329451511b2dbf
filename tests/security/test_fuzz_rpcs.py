"""Generated hostile input for every public unary RPC, sent through the gateway as a project
admin: whatever the fields hold (NUL, huge numbers, odd unicode, deep nesting, names pointing
anywhere), the answer is never INTERNAL or UNKNOWN, and a refused create stores nothing.

Budget: 94 methods x 107 cases = about 10,000 per run, which takes about 2 minutes on an idle
2-core machine (most cases are refused by the gateway or a backend's checks; those that get
through are paced by the gateway's per-principal rate limit, whose RESOURCE_EXHAUSTED the suite
waits out rather than counting). On a busy machine it is several times slower;
THREEPORT_FUZZ_EXAMPLES sets the cases per method (e.g. 20 for a quick local run).
"""

from __future__ import annotations

import os
import time
from typing import Any

import grpc
import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security.conftest import Tenants
from threeport_api_gateway.access.methods import MethodInfo, MethodTable
from threeport_api_gateway.access.targets import describe

PROJECT = "sec-b"
EXAMPLES_PER_METHOD = int(os.environ.get("THREEPORT_FUZZ_EXAMPLES", "107"))
NEVER = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS}
# Deleting the very project the suite works in would only end the run early.
SKIPPED = {"/threeport.gateway.v1alpha1.ProjectService/DeleteProject"}

TABLE = MethodTable.load()
METHODS = sorted(
    (info for info in TABLE.values()
     if info.policy is not None and not info.internal and not info.server_streaming and info.path not in SKIPPED),
    key=lambda info: info.path,
)

hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "\x00", "a\x00b", "x" * 300, "../../etc", "projects/", "*", "' OR 1=1 --", "ü\u202e"]),
)
names = st.one_of(
    st.builds(lambda c, i: f"projects/{PROJECT}/{c}/{i}",
              st.sampled_from(["applications", "environments", "deployments", "x"]), hostile_text),
    st.builds(lambda i: f"projects/{i}", hostile_text),
    st.builds(lambda c, i: f"{c}/{i}", st.sampled_from(["clusters", "clusterProfiles", "principals"]), hostile_text),
    hostile_text,
)
# Watch resume positions: Redis stream ids are ``<ms>-<seq>`` of two unsigned 64-bit numbers.
positions = st.one_of(
    hostile_text,
    st.builds(lambda ms, seq: f"{ms}-{seq}", st.integers(0, 2**70), st.integers(0, 2**70)),
    st.sampled_from(["0-0", "1-0", "18446744073709551615-18446744073709551615", "18446744073709551616-0"]),
)
INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1), FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1), FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1), FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
}


def scalar(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    if field.type == FieldDescriptor.TYPE_STRING:
        if field.name == "resource_version":
            return positions
        return names if field.name in ("name", "parent") or field.name.endswith("_id") else hostile_text
    if field.type in INT_RANGES:
        low, high = INT_RANGES[field.type]
        return st.one_of(st.integers(low, high), st.sampled_from([0, 1, -1, low, high]))
    if field.type == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.floats(allow_nan=True, width=32 if field.type == FieldDescriptor.TYPE_FLOAT else 64)
    if field.type == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=40)
    if field.type == FieldDescriptor.TYPE_ENUM:
        assert field.enum_type is not None
        return st.one_of(st.sampled_from([v.number for v in field.enum_type.values]), st.integers(-5, 500))
    raise AssertionError(f"unhandled field type {field.type}")


def fill(message: Message, draw: Any, depth: int) -> None:
    descriptor: Any = message.DESCRIPTOR  # the C implementation has its own Descriptor class
    for field in descriptor.fields:
        if not draw(st.booleans()):
            continue
        target: Any = message
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            if depth <= 0:
                continue
            value_field = field.message_type.fields_by_name["value"]
            for _ in range(draw(st.integers(0, 3))):
                key = draw(hostile_text)
                if value_field.message_type is None:
                    getattr(target, field.name)[key] = draw(scalar(value_field))
                else:
                    fill(getattr(target, field.name)[key], draw, depth - 1)
        elif field.message_type is not None:
            if depth <= 0 or (field.message_type.full_name.startswith("google.protobuf.") and \
                    field.message_type.name not in ("Timestamp", "Duration", "FieldMask")):
                continue
            if field.is_repeated:
                for _ in range(draw(st.integers(0, 2))):
                    fill(getattr(target, field.name).add(), draw, depth - 1)
            elif field.message_type.name in ("Timestamp", "Duration"):
                child = getattr(target, field.name)
                child.seconds = draw(st.integers(-(2**40), 2**40))
                child.nanos = draw(st.integers(0, 999_999_999))
            elif field.message_type.name == "FieldMask":
                getattr(target, field.name).paths.extend(draw(st.lists(hostile_text, max_size=3)))
            else:
                fill(getattr(target, field.name), draw, depth - 1)
        elif field.is_repeated:
            getattr(target, field.name).extend(draw(st.lists(scalar(field), max_size=3)))
        else:
            setattr(target, field.name, draw(scalar(field)))


@st.composite
def requests(draw: Any, info: MethodInfo) -> Message:
    request = info.request_type()
    fill(request, draw, depth=3)
    return request


@pytest.fixture(scope="module")
def channel(tenants: Tenants) -> Any:
    opened = grpc.insecure_channel(tenants.server)
    yield opened
    opened.close()


@pytest.mark.parametrize("info", METHODS, ids=[info.path.split(".")[-1] for info in METHODS])
def test_hostile_requests_never_fail_internally(info: MethodInfo, tenants: Tenants, channel: Any) -> None:
    token = tenants.tokens[(PROJECT, "admin")]
    call = channel.unary_unary(info.path, request_serializer=lambda m: m.SerializeToString(),
                               response_deserializer=lambda raw: raw)
    metadata = (("authorization", f"Bearer {token}"),)

    @settings(max_examples=EXAMPLES_PER_METHOD, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(requests(info))
    def check(request: Message) -> None:
        while True:
            try:
                call(request, metadata=metadata, timeout=30)
                return
            except grpc.RpcError as error:
                code = error.code()
                if code == grpc.StatusCode.RESOURCE_EXHAUSTED and "too many requests" in (error.details() or ""):
                    time.sleep(0.2)  # our own pace, not the input's fault: try the same case again
                    continue
                assert code not in NEVER, f"{info.path}: {code.name} {error.details()!r} for {request}"
                if info.path.rsplit("/", 1)[-1].startswith("Create") and code == grpc.StatusCode.INVALID_ARGUMENT:
                    assert_not_stored(channel, info, request, metadata)
                return

    check()


def assert_not_stored(channel: Any, info: MethodInfo, request: Message, metadata: Any) -> None:
    """A refused create leaves nothing under the name the resource would have had."""
    resource = describe(request).resource
    kind = info.path.rsplit("/Create", 1)[-1]
    if not resource.startswith(f"projects/{PROJECT}/") or "\x00" in resource:
        return
    get = channel.unary_unary(f"{info.path.rsplit('/', 1)[0]}/Get{kind}",
                              request_serializer=lambda m: m.SerializeToString(), response_deserializer=lambda r: r)
    getter = TABLE.get(f"{info.path.rsplit('/', 1)[0]}/Get{kind}")
    if getter is None:
        return
    try:
        get(getter.request_type(name=resource), metadata=metadata, timeout=30)
    except grpc.RpcError as error:
        # PERMISSION_DENIED: the suite's project admin may not read it back (operator resources).
        assert error.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT,
                                grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.PERMISSION_DENIED), error
        return
    raise AssertionError(f"{info.path} refused {request} yet {resource} exists")
