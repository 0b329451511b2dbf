"""An in-process ApplicationService peer for SDK tests: an in-memory store plus scripted faults.

It is a test double of the network peer only; the SDK under test talks to it over real gRPC.
Tests script it by queueing failures per method (``fail_next``) and by giving Watch a list of
versions to stream (``watch_script``).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator, Sequence
from concurrent import futures
from dataclasses import dataclass, field

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2  # type: ignore[import-untyped]
from grpc_status import rpc_status

from threeport.common.v1alpha1 import condition_pb2, state_pb2, watch_pb2
from threeport.registry.v1alpha1 import application_pb2 as app_pb2
from threeport.registry.v1alpha1 import application_pb2_grpc as app_grpc


def rpc_failure(
    code: grpc.StatusCode,
    message: str,
    *,
    reason: str = "",
    violations: Sequence[tuple[str, str]] = (),
) -> status_pb2.Status:
    """A google.rpc.Status as Threeport services send it, with ErrorInfo and BadRequest."""
    details = []
    if reason:
        packed = any_pb2.Any()
        packed.Pack(error_details_pb2.ErrorInfo(reason=reason, domain="threeport.io"))
        details.append(packed)
    if violations:
        packed = any_pb2.Any()
        packed.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=f, description=d) for f, d in violations
                ]
            )
        )
        details.append(packed)
    return status_pb2.Status(code=getattr(code_pb2, code.name), message=message, details=details)


def unavailable() -> status_pb2.Status:
    return rpc_failure(grpc.StatusCode.UNAVAILABLE, "backend restarting")


def application(
    name: str,
    *,
    generation: int = 1,
    ready: int = condition_pb2.CONDITION_STATUS_UNKNOWN,
    observed_generation: int | None = None,
    reconciling: bool = True,
    state: int = state_pb2.STATE_RECONCILING,
    reason: str = "",
    step: str = "",
) -> app_pb2.Application:
    """An Application version with one Ready condition; ``step`` labels it for assertions."""
    return app_pb2.Application(
        name=name,
        generation=generation,
        reconciling=reconciling,
        state=state,  # type: ignore[arg-type]
        labels={"step": step} if step else {},
        conditions=[
            condition_pb2.Condition(
                type="Ready",
                status=ready,  # type: ignore[arg-type]
                reason=reason,
                message=f"Ready is {condition_pb2.ConditionStatus.Name(ready)}",  # type: ignore[arg-type]
                observed_generation=generation if observed_generation is None else observed_generation,
            )
        ],
    )


@dataclass
class Seen:
    """What the server received: requests and metadata per method name."""

    requests: dict[str, list[object]] = field(default_factory=lambda: defaultdict(list))
    metadata: dict[str, list[dict[str, str]]] = field(default_factory=lambda: defaultdict(list))


class FakeApplicationService(app_grpc.ApplicationServiceServicer):
    """Create, Get, List and Watch; the SDK logic under test is the same for every method."""

    def UpdateApplication(self, request, context):  # type: ignore[no-untyped-def]
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "not served by the fake")

    def DeleteApplication(self, request, context):  # type: ignore[no-untyped-def]
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "not served by the fake")

    def ConvertScore(self, request, context):  # type: ignore[no-untyped-def]
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "not served by the fake")

    def __init__(self) -> None:
        self.store: dict[str, app_pb2.Application] = {}
        self.failures: dict[str, deque[status_pb2.Status]] = defaultdict(deque)
        self.seen = Seen()
        self.get_script: deque[app_pb2.Application] = deque()
        self.watch_script: list[app_pb2.Application] = []
        self.watch_blocks = False
        self._lock = threading.Lock()

    def fail_next(self, method: str, *failures: status_pb2.Status) -> None:
        self.failures[method].extend(failures)

    def _enter(self, method: str, request: object, context: grpc.ServicerContext) -> None:
        with self._lock:
            self.seen.requests[method].append(request)
            self.seen.metadata[method].append({k: str(v) for k, v in context.invocation_metadata()})
            failure = self.failures[method].popleft() if self.failures[method] else None
        if failure is not None:
            context.abort_with_status(rpc_status.to_status(failure))

    def CreateApplication(self, request, context):  # type: ignore[no-untyped-def]
        self._enter("CreateApplication", request, context)
        name = f"{request.parent}/applications/{request.application_id}"
        created = app_pb2.Application(name=name, generation=1, reconciling=True)
        created.labels.update(request.application.labels)
        self.store[name] = created
        return created

    def GetApplication(self, request, context):  # type: ignore[no-untyped-def]
        self._enter("GetApplication", request, context)
        if self.get_script:
            return self.get_script.popleft()
        if request.name not in self.store:
            context.abort_with_status(
                rpc_status.to_status(
                    rpc_failure(
                        grpc.StatusCode.NOT_FOUND, f"{request.name} not found", reason="RESOURCE_NOT_FOUND"
                    )
                )
            )
        return self.store[request.name]

    def ListApplications(self, request, context):  # type: ignore[no-untyped-def]
        self._enter("ListApplications", request, context)
        names = sorted(n for n in self.store if n.startswith(f"{request.parent}/"))
        start = int(request.page_token or 0)
        size = request.page_size or 50
        page = names[start : start + size]
        following = start + size
        return app_pb2.ListApplicationsResponse(
            applications=[self.store[n] for n in page],
            next_page_token=str(following) if following < len(names) else "",
        )

    def WatchApplications(self, request, context) -> Iterator[app_pb2.WatchApplicationsResponse]:  # type: ignore[no-untyped-def]
        self._enter("WatchApplications", request, context)
        yield app_pb2.WatchApplicationsResponse(type=watch_pb2.WATCH_EVENT_TYPE_HEARTBEAT)
        for version in self.watch_script:
            # An event for another application in the same project must be ignored by waiters.
            yield app_pb2.WatchApplicationsResponse(
                type=watch_pb2.WATCH_EVENT_TYPE_MODIFIED,
                application=application(version.name + "-other", ready=condition_pb2.CONDITION_STATUS_TRUE),
            )
            yield app_pb2.WatchApplicationsResponse(
                type=watch_pb2.WATCH_EVENT_TYPE_MODIFIED, application=version
            )
        while self.watch_blocks and context.is_active():
            time.sleep(0.01)


class FakeServer:
    """Runs the fake on a random loopback port."""

    def __init__(self) -> None:
        self.servicer = FakeApplicationService()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        app_grpc.add_ApplicationServiceServicer_to_server(self.servicer, self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.target = f"127.0.0.1:{self.port}"

    def __enter__(self) -> FakeServer:
        self.server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.stop(grace=None)
