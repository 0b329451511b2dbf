"""The metrics concern of a server call: calls and latency by method and status code."""

from __future__ import annotations

from threeport_runtime.telemetry import meter


class CallMetrics:
    def __init__(self) -> None:
        instruments = meter()
        self._calls = instruments.create_counter("threeport.rpc.server.calls")
        self._latency = instruments.create_histogram("threeport.rpc.server.duration", unit="s")

    def record(self, method: str, code: str, seconds: float) -> None:
        attributes = {"rpc.method": method, "rpc.grpc.status_code": code}
        self._calls.add(1, attributes)
        self._latency.record(seconds, attributes)
