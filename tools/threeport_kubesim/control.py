"""A typed client for the emulator's control API (stdlib urllib only), for tests, tools and the
`sim` cluster provider."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class ClusterInfo:
    name: str
    server: str
    token: str
    ca_data: str | None
    kubeconfig_path: str
    tls: bool
    port: int
    nodes: int
    unreachable: bool

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClusterInfo:
        return cls(
            name=data["name"],
            server=data["server"],
            token=data["token"],
            ca_data=data.get("ca_data"),
            kubeconfig_path=data.get("kubeconfig_path") or "",
            tls=bool(data.get("tls")),
            port=int(data.get("port", 0)),
            nodes=int(data.get("nodes", 0)),
            unreachable=bool(data.get("unreachable")),
        )


@dataclass(frozen=True, slots=True)
class FaultsInfo:
    cluster: str
    unreachable: bool
    failing_images: list[str]
    latency_ms: int
    fail_requests: list[dict[str, Any]]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultsInfo:
        return cls(
            cluster=data["cluster"],
            unreachable=bool(data["unreachable"]),
            failing_images=list(data.get("failing_images") or []),
            latency_ms=int(data.get("latency_ms", 0)),
            fail_requests=list(data.get("fail_requests") or []),
        )


class ControlClient:
    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                result: dict[str, Any] = json.loads(response.read() or b"{}")
                return result
        except urllib.error.HTTPError as exc:
            payload = exc.read()
            try:
                message = str(json.loads(payload).get("error", payload.decode()))
            except (ValueError, AttributeError):
                message = payload.decode(errors="replace")
            raise ControlError(exc.code, message) from None

    def healthy(self) -> bool:
        try:
            return bool(self._call("GET", "/healthz").get("ok"))
        except (OSError, ControlError):
            return False

    def create_cluster(
        self,
        name: str,
        tls: bool | None = None,
        nodes: int | None = None,
        token: str | None = None,
        port: int | None = None,
        speed: float | None = None,
        token_webhook: str | None = None,
    ) -> ClusterInfo:
        body: dict[str, Any] = {"name": name}
        for key, value in (
            ("tls", tls),
            ("nodes", nodes),
            ("token", token),
            ("port", port),
            ("speed", speed),
            ("token_webhook", token_webhook),
        ):
            if value is not None:
                body[key] = value
        return ClusterInfo.from_json(self._call("POST", "/clusters", body))

    def delete_cluster(self, name: str) -> None:
        self._call("DELETE", f"/clusters/{name}")

    def get_cluster(self, name: str) -> ClusterInfo:
        return ClusterInfo.from_json(self._call("GET", f"/clusters/{name}"))

    def list_clusters(self) -> list[ClusterInfo]:
        return [ClusterInfo.from_json(c) for c in self._call("GET", "/clusters")["clusters"]]

    def faults(self, cluster: str) -> FaultsInfo:
        return FaultsInfo.from_json(self._call("GET", f"/clusters/{cluster}/faults"))

    def clear_faults(self, cluster: str) -> FaultsInfo:
        return FaultsInfo.from_json(self._call("DELETE", f"/clusters/{cluster}/faults"))

    def image_pull_fail(self, cluster: str, image: str, enabled: bool = True) -> FaultsInfo:
        return FaultsInfo.from_json(
            self._call("POST", f"/clusters/{cluster}/faults/image-pull", {"image": image, "enabled": enabled})
        )

    def set_unreachable(self, cluster: str, enabled: bool = True) -> FaultsInfo:
        return FaultsInfo.from_json(self._call("POST", f"/clusters/{cluster}/faults/unreachable", {"enabled": enabled}))

    def set_latency(self, cluster: str, ms: int) -> FaultsInfo:
        return FaultsInfo.from_json(self._call("POST", f"/clusters/{cluster}/faults/latency", {"ms": ms}))

    def fail_requests(
        self,
        cluster: str,
        status: int,
        count: int = 1,
        verb: str = "",
        resource: str = "",
        namespace: str = "",
        message: str = "injected failure",
    ) -> FaultsInfo:
        return FaultsInfo.from_json(
            self._call(
                "POST",
                f"/clusters/{cluster}/faults/fail-requests",
                {
                    "status": status,
                    "count": count,
                    "verb": verb,
                    "resource": resource,
                    "namespace": namespace,
                    "message": message,
                },
            )
        )
