"""The emulator's control API (HTTP+JSON on its own port): create/list/delete clusters and inject
faults. Its shapes are a stable contract used by the `sim` cluster provider; see README.md."""

from __future__ import annotations

import json
from typing import Any

from threeport_kubesim.emulator import Emulator, EmulatorError
from threeport_kubesim.faults import FailRule
from threeport_kubesim.httpserver import Request, Response, StreamResponse
from threeport_kubesim.store import dumps


def _ok(status: int, body: dict[str, Any]) -> Response:
    return Response(status, dumps(body))


def _error(status: int, message: str) -> Response:
    return Response(status, dumps({"error": message}))


class ControlApi:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    async def handle(self, request: Request) -> Response | StreamResponse:
        try:
            body = json.loads(request.body) if request.body else {}
            if not isinstance(body, dict):
                raise EmulatorError(400, "request body must be a JSON object")
            return await self._route(request, [p for p in request.path.split("/") if p], body)
        except json.JSONDecodeError as exc:
            return _error(400, f"invalid JSON: {exc}")
        except EmulatorError as exc:
            return _error(exc.status, exc.message)
        except (KeyError, TypeError, ValueError) as exc:
            return _error(400, f"invalid request: {exc}")

    async def _route(self, request: Request, parts: list[str], body: dict[str, Any]) -> Response:
        method = request.method
        emulator = self.emulator
        if parts == ["healthz"]:
            return _ok(200, {"ok": True, "clusters": len(emulator.clusters)})
        if parts == ["clusters"]:
            if method == "GET":
                return _ok(200, {"clusters": [c.info() for c in emulator.clusters.values()]})
            if method == "POST":
                cluster = await emulator.create_cluster(
                    str(body["name"]),
                    tls=body.get("tls"),
                    nodes=body.get("nodes"),
                    token=body.get("token", ""),
                    port=int(body.get("port", 0)),
                    speed=body.get("speed"),
                    token_webhook=str(body.get("token_webhook", "")),
                )
                return _ok(201, cluster.info())
        if len(parts) == 2 and parts[0] == "clusters":
            if method == "GET":
                return _ok(200, emulator.get(parts[1]).info())
            if method == "DELETE":
                await emulator.delete_cluster(parts[1])
                return _ok(200, {"deleted": parts[1]})
        if len(parts) >= 3 and parts[0] == "clusters" and parts[2] == "faults":
            return await self._faults(request, emulator.get(parts[1]).name, parts[3:], body)
        return _error(404 if method in ("GET", "DELETE", "POST") else 405, f"no route for {method} {request.path}")

    async def _faults(self, request: Request, name: str, rest: list[str], body: dict[str, Any]) -> Response:
        cluster = self.emulator.get(name)
        faults = cluster.faults
        method = request.method
        enabled = bool(body.get("enabled", True))
        if not rest and method == "GET":
            pass
        elif not rest and method == "DELETE":
            faults.clear()
            if cluster.unreachable:
                await cluster.set_unreachable(False)
        elif rest == ["image-pull"] and method == "POST":
            image = str(body["image"])
            if enabled:
                faults.failing_images.add(image)
            else:
                faults.failing_images.discard(image)
        elif rest == ["unreachable"] and method == "POST":
            await cluster.set_unreachable(enabled)
        elif rest == ["latency"] and method == "POST":
            faults.latency_seconds = max(0.0, float(body.get("ms", 0)) / 1000.0)
        elif rest == ["fail-requests"] and method == "POST":
            status = int(body["status"])
            if not 400 <= status <= 599:
                raise EmulatorError(400, "status must be an HTTP error code (400-599)")
            faults.fail_rules.append(
                FailRule(
                    status=status,
                    remaining=int(body.get("count", 1)),
                    verb=str(body.get("verb", "")),
                    resource=str(body.get("resource", "")),
                    namespace=str(body.get("namespace", "")),
                    message=str(body.get("message", "injected failure")),
                )
            )
        else:
            return _error(404, f"no fault route for {method} {request.path}")
        return _ok(200, {"cluster": name, "unreachable": cluster.unreachable, **faults.to_json()})
