"""Errors the gateway adds to the runtime's set.

``RateLimited`` carries ``google.rpc.RetryInfo`` (the runtime's ``retry_info``) so that clients
(the SDK's ``retry_delay``) know how long to back off.
"""

from __future__ import annotations

from google.rpc import status_pb2  # type: ignore[import-untyped]

from threeport_runtime.errors import ResourceExhausted, retry_info


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
        status.details.append(retry_info(self.retry_after))
        return status
