"""Errors the gateway adds to the runtime's set.

``RateLimited`` carries ``google.rpc.RetryInfo`` so that clients (the SDK's ``retry_delay``)
know how long to back off. It belongs in ``threeport_runtime.errors`` once another service
needs it.
"""

from __future__ import annotations

from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped]

from threeport_runtime.errors import ResourceExhausted


class RateLimited(ResourceExhausted):
    reason = "RATE_LIMITED"

    def __init__(self, principal: str, retry_after: float):
        super().__init__(
            f"too many requests from {principal}; retry after {retry_after:.2f}s",
            metadata={"principal": principal},
        )
        self.retry_after = retry_after

    def to_status(self) -> status_pb2.Status:
        status = super().to_status()
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(max(1, int(self.retry_after * 1e9)))
        packed = any_pb2.Any()
        packed.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
        status.details.append(packed)
        return status
