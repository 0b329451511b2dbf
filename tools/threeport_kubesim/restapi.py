"""The Kubernetes REST surface of one cluster: URL routing, query parameters, list pagination,
watch streams and subresources, translating HTTP requests into `ApiServer` calls.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
import yaml

from threeport_kubesim import errors, podlogs, schemas
from threeport_kubesim.apiserver import RETURNS_DELETED_OBJECT, ApiServer, WriteOptions
from threeport_kubesim.errors import ApiError
from threeport_kubesim.httpserver import Request, Response, StreamResponse
from threeport_kubesim.resources import ResourceType
from threeport_kubesim.selectors import parse_field_selector, parse_label_selector
from threeport_kubesim.store import Watcher, dumps, event_line
from threeport_kubesim.tables import render_table, table_events, wants_table

JSON = "application/json"
log = logging.getLogger("threeport_kubesim.api")


@dataclass(slots=True)
class Target:
    rtype: ResourceType
    namespace: str | None  # None: across all namespaces (lists/watches) or cluster-scoped
    name: str | None
    subresource: str
    legacy_watch: bool


def json_response(status: int, body: Any) -> Response:
    return Response(status, dumps(body) if isinstance(body, dict) else json.dumps(body).encode())


def error_response(error: ApiError) -> Response:
    return Response(error.code, dumps(error.status()))


class RestApi:
    def __init__(self, api: ApiServer, bookmark_interval: float = 60.0, speed: float = 1.0) -> None:
        self.api = api
        self.bookmark_interval = bookmark_interval
        self.speed = speed  # simulated time's pace, for the ticks of Pod logs

    # ----- routing -----------------------------------------------------------------------------

    def resolve(self, path: str) -> Target | None:
        parts = [p for p in path.split("/") if p]
        if len(parts) < 3:
            return None
        if parts[0] == "api" and parts[1] == "v1":
            group, version, rest = "", "v1", parts[2:]
        elif parts[0] == "apis" and len(parts) >= 4:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        legacy_watch = False
        if rest and rest[0] == "watch":
            legacy_watch, rest = True, rest[1:]
        namespace: str | None = None
        namespace_subresource = group == "" and len(rest) == 3 and rest[2] in ("status", "finalize")
        if len(rest) >= 3 and rest[0] == "namespaces" and not namespace_subresource:
            namespace, rest = rest[1], rest[2:]
        if not rest:
            return None
        rtype = self.api.registry.lookup(group, version, rest[0])
        if rtype is None:
            return None
        if namespace is not None and not rtype.namespaced:
            return None
        name = rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else ""
        if len(rest) > 3:
            return None
        return Target(rtype, namespace, name, subresource, legacy_watch)

    async def handle(self, request: Request) -> Response | StreamResponse:
        target = self.resolve(request.path)
        if target is None:
            return error_response(ApiError(404, "NotFound", "the server could not find the requested resource"))
        try:
            return await self._dispatch(request, target)
        except ApiError as error:
            return error_response(error)
        except Exception as exc:  # a bug must surface as a 500 Status, never as a dropped connection
            log.exception("internal error serving %s %s", request.method, request.path)
            return error_response(ApiError(500, "InternalError", f"Internal error occurred: {exc}"))

    async def _dispatch(self, request: Request, target: Target) -> Response | StreamResponse:
        method = request.method
        rtype = target.rtype
        namespace = target.namespace or ""
        if target.subresource == "log" and rtype.key == ("", "pods") and target.name and not rtype.custom:
            if method != "GET":
                raise errors.method_not_allowed()
            return self._pod_log(request, namespace, target.name)
        if target.subresource and target.subresource not in ("status", "scale", "finalize"):
            raise errors.not_found(rtype.resource, rtype.group, target.name or "")
        if target.subresource == "status" and not rtype.has_status:
            raise errors.not_found(rtype.resource, rtype.group, target.name or "")
        if target.subresource == "scale" and rtype.scale is None:
            raise errors.not_found(rtype.resource, rtype.group, target.name or "")
        if target.name is None:
            if method == "GET":
                if target.legacy_watch or request.param("watch") in ("true", "1"):
                    return self._watch(request, target)
                return self._list(request, target)
            if method == "POST":
                return self._create(request, target)
            if method == "DELETE":
                return self._delete_collection(request, target)
            raise errors.method_not_allowed()
        name = target.name
        if target.legacy_watch or (method == "GET" and request.param("watch") in ("true", "1")):
            # A watch on a single object is a watch filtered by metadata.name.
            request.query["fieldSelector"] = [f"metadata.name={name}"]
            target.name = None
            return self._watch(request, target)
        if target.subresource == "scale":
            return self._scale(request, target, name)
        if method == "GET":
            if not rtype.custom and not wants_table(request.header("accept")):
                # The stored bytes are exactly the response: skip decoding and re-encoding.
                return Response(200, self.api.get_stored(rtype, namespace, name).raw)
            obj = self.api.get(rtype, namespace, name)
            return self._object_response(request, rtype, 200, obj)
        if method == "PUT":
            options = self._write_options(request, target.subresource)
            obj = self.api.update(rtype, namespace, name, self._body(request), options)
            return _warned(self._object_response(request, rtype, 200, obj), options)
        if method == "PATCH":
            options = self._write_options(request, target.subresource)
            if request.header("content-type").startswith("application/apply-patch") and not request.param(
                "fieldManager"
            ):
                options.manager = ""  # apply has no user-agent default: the server demands a manager
            force = request.param("force") in ("true", "1")
            obj, created = self.api.patch(
                rtype, namespace, name, request.header("content-type", JSON), request.body, options, force
            )
            return _warned(self._object_response(request, rtype, 201 if created else 200, obj), options)
        if method == "DELETE":
            return self._delete(request, target, name)
        raise errors.method_not_allowed()

    # ----- helpers -----------------------------------------------------------------------------

    def _body(self, request: Request) -> Any:
        content_type = request.header("content-type", JSON).split(";")[0].strip()
        if "protobuf" in content_type or "cbor" in content_type:
            raise errors.unsupported_media_type(content_type)
        try:
            if content_type in ("application/yaml", "application/x-yaml", "text/yaml"):
                return yaml.safe_load(request.body or b"{}")
            return orjson.loads(request.body or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError, yaml.YAMLError) as exc:  # orjson's is a JSONDecodeError
            raise errors.bad_request(f"error decoding request body: {exc}") from exc

    def _write_options(self, request: Request, subresource: str) -> WriteOptions:
        manager = request.param("fieldManager") or request.header("user-agent", "unknown").split("/")[0]
        dry_run = bool(request.query.get("dryRun"))
        field_validation = request.param("fieldValidation") or schemas.WARN
        if field_validation not in schemas.FIELD_VALIDATION:
            raise errors.bad_request(
                f"fieldValidation parameter unsupported: {field_validation!r} "
                f"(supported: {', '.join(schemas.FIELD_VALIDATION)})"
            )
        return WriteOptions(
            manager=manager[:128], dry_run=dry_run, subresource=subresource, field_validation=field_validation
        )

    def _object_response(self, request: Request, rtype: ResourceType, status: int, obj: dict[str, Any]) -> Response:
        if wants_table(request.header("accept")):
            return Response(status, dumps(render_table(rtype, [obj], obj["metadata"].get("resourceVersion", ""))))
        return Response(status, dumps(obj))

    def _create(self, request: Request, target: Target) -> Response:
        rtype = target.rtype
        if rtype.namespaced and target.namespace is None:
            raise errors.method_not_allowed("POST requires a namespace for namespaced resources")
        options = self._write_options(request, "")
        obj = self.api.create(rtype, target.namespace or "", self._body(request), options)
        return _warned(Response(201, dumps(obj)), options)

    def _delete(self, request: Request, target: Target, name: str) -> Response:
        rtype = target.rtype
        delete_options = self._delete_options(request)
        dry_run = bool(request.query.get("dryRun")) or bool(delete_options.get("dryRun"))
        obj, gone = self.api.delete(rtype, target.namespace or "", name, delete_options, dry_run)
        if gone and rtype.key not in RETURNS_DELETED_OBJECT:
            details: dict[str, Any] = {
                "name": name,
                "kind": rtype.resource,
                "uid": obj["metadata"].get("uid"),
            }
            if rtype.group:
                details["group"] = rtype.group
            return json_response(
                200,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": details,
                },
            )
        return Response(200 if gone else 202, dumps(obj))

    def _delete_options(self, request: Request) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if request.body:
            try:
                parsed = json.loads(request.body)
            except json.JSONDecodeError as exc:
                raise errors.bad_request(f"invalid DeleteOptions: {exc}") from exc
            if isinstance(parsed, dict):
                options = parsed
        if request.param("propagationPolicy"):
            options["propagationPolicy"] = request.param("propagationPolicy")
        if request.param("orphanDependents") in ("true", "1"):
            options["orphanDependents"] = True
        return options

    def _delete_collection(self, request: Request, target: Target) -> Response:
        rtype = target.rtype
        delete_options = self._delete_options(request)
        dry_run = bool(request.query.get("dryRun"))
        labels = parse_label_selector(request.param("labelSelector"))
        fields = parse_field_selector(request.param("fieldSelector"), rtype.kind, rtype.custom)
        deleted = []
        for obj in self.api.list_objects(rtype, target.namespace if rtype.namespaced else None, labels):
            if fields is not None and not fields(obj):
                continue
            try:
                result, _ = self.api.delete(
                    rtype,
                    obj["metadata"].get("namespace", ""),
                    obj["metadata"]["name"],
                    delete_options,
                    dry_run,
                )
            except ApiError:
                continue
            deleted.append(result)
        return json_response(
            200,
            {
                "kind": rtype.list_kind,
                "apiVersion": rtype.api_version,
                "metadata": {"resourceVersion": str(self.api.store.rv)},
                "items": deleted,
            },
        )

    def _scale(self, request: Request, target: Target, name: str) -> Response:
        rtype = target.rtype
        namespace = target.namespace or ""
        if request.method == "GET":
            return json_response(200, self.api.get_scale(rtype, namespace, name))
        options = self._write_options(request, "scale")
        current = self.api.get_scale(rtype, namespace, name)
        if request.method == "PUT":
            scale = self._body(request)
        elif request.method == "PATCH":
            from threeport_kubesim.apiserver import APPLY_PATCH, JSON_PATCH
            from threeport_kubesim.patching import apply_json_patch, apply_merge_patch

            media = request.header("content-type", JSON).split(";")[0].strip()
            if media == APPLY_PATCH:
                scale = yaml.safe_load(request.body or b"{}")
            else:
                patch = json.loads(request.body or b"{}")
                scale = apply_json_patch(current, patch) if media == JSON_PATCH else apply_merge_patch(current, patch)
                if not (isinstance(patch, dict) and (patch.get("metadata") or {}).get("resourceVersion")):
                    scale.get("metadata", {}).pop("resourceVersion", None)
        else:
            raise errors.method_not_allowed()
        if not isinstance(scale, dict):
            raise errors.bad_request("Scale body must be an object")
        return json_response(200, self.api.update_scale(rtype, namespace, name, scale, options))

    # ----- list --------------------------------------------------------------------------------

    def _list(self, request: Request, target: Target) -> Response:
        rtype = target.rtype
        labels = parse_label_selector(request.param("labelSelector"))
        fields = parse_field_selector(request.param("fieldSelector"), rtype.kind, rtype.custom)
        limit = int(request.param("limit") or 0)
        start_after: tuple[str, str] | None = None
        list_rv = self.api.store.rv
        token = request.param("continue")
        if token:
            start_after, list_rv = self._decode_continue(token)
        rows = self.api.store.items(rtype.key, target.namespace)
        selected: list[bytes] = []
        decoded: list[dict[str, Any]] = []
        table = wants_table(request.header("accept"))
        next_key: tuple[str, str] | None = None
        remaining = 0
        for key, stored in rows:
            if start_after is not None and key <= start_after:
                continue
            if not labels.empty and not labels.matches(stored.labels):
                continue
            obj: dict[str, Any] | None = None
            if fields is not None or table or rtype.custom:
                obj = stored.decode()
                if fields is not None and not fields(obj):
                    continue
            if limit and len(selected) >= limit:
                remaining += 1
                continue
            if obj is not None and rtype.custom:
                obj["apiVersion"] = rtype.api_version
                selected.append(dumps(obj))
            else:
                selected.append(stored.raw)
            if obj is not None:
                decoded.append(obj)
            next_key = key
        metadata: dict[str, Any] = {"resourceVersion": str(list_rv)}
        if remaining and next_key is not None:
            metadata["continue"] = self._encode_continue(next_key, list_rv)
            metadata["remainingItemCount"] = remaining
        if table:
            return Response(200, dumps(render_table(rtype, decoded, str(list_rv), metadata)))
        head = dumps({"kind": rtype.list_kind, "apiVersion": rtype.api_version, "metadata": metadata})
        body = head[:-1] + b',"items":[' + b",".join(selected) + b"]}"
        return Response(200, body)

    def _encode_continue(self, key: tuple[str, str], rv: int) -> str:
        token = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": list(key)}).encode()
        return base64.urlsafe_b64encode(token).decode()

    def _decode_continue(self, token: str) -> tuple[tuple[str, str], int]:
        try:
            data = json.loads(base64.urlsafe_b64decode(token.encode()))
            start = (str(data["start"][0]), str(data["start"][1]))
            rv = int(data["rv"])
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise errors.bad_request(f"continue key is not valid: {exc}") from exc
        if rv < self.api.store.oldest_resumable_rv:
            raise errors.gone(
                "The provided continue parameter is too old to display a consistent list result. "
                "You can start a new list without the continue parameter."
            )
        return start, rv

    # ----- watch -------------------------------------------------------------------------------

    def _watch(self, request: Request, target: Target) -> StreamResponse:
        rtype = target.rtype
        store = self.api.store
        labels = parse_label_selector(request.param("labelSelector"))
        fields = parse_field_selector(request.param("fieldSelector"), rtype.kind, rtype.custom)
        watcher = Watcher(rtype.key, target.namespace, labels, fields)
        rv_param = request.param("resourceVersion") or ""
        send_initial = request.param("sendInitialEvents") in ("true", "1")
        bookmarks = request.param("allowWatchBookmarks") in ("true", "1")
        timeout_param = request.param("timeoutSeconds")
        timeout = float(timeout_param) if timeout_param else random.uniform(1800, 3600)
        initial: list[bytes] = []
        start_rv = store.rv
        if rv_param in ("", "0") or send_initial:
            for _, stored in store.items(rtype.key, target.namespace):
                if not labels.empty and not labels.matches(stored.labels):
                    continue
                obj = stored.decode()
                if fields is not None and not fields(obj):
                    continue
                initial.append(event_line("ADDED", stored.raw))
            if send_initial and bookmarks:
                initial.append(self._bookmark(rtype, start_rv, initial_events_end=True))
        else:
            try:
                since = int(rv_param)
            except ValueError as exc:
                raise errors.bad_request(f"invalid resource version {rv_param!r}") from exc
            if since < store.oldest_resumable_rv:
                expired = ApiError(410, "Expired", f"too old resource version: {since} ({store.oldest_resumable_rv})")
                return StreamResponse(200, _single(event_line("ERROR", dumps(expired.status()))))
            for event_type, raw, obj in store.changes_since(rtype.key, since, target.namespace):
                if watcher.matches(obj, obj["metadata"].get("labels")):
                    initial.append(event_line(event_type, raw))
                elif event_type == "MODIFIED":
                    initial.append(event_line("DELETED", raw))
        store.add_watcher(watcher)
        chunks = self._stream(request, rtype, watcher, initial, timeout, bookmarks)
        if wants_table(request.header("accept")):
            chunks = table_events(rtype, chunks)
        return StreamResponse(200, chunks)

    def _pod_log(self, request: Request, namespace: str, name: str) -> Response | StreamResponse:
        """A container's log (see ``podlogs``): plain text, or a chunked stream with ``follow``."""
        pods = self.api.registry.lookup("", "v1", "pods")
        assert pods is not None
        pod = self.api.get(pods, namespace, name)
        options = podlogs.parse_request(pod, request.param)
        lines, _ = podlogs.lines_until(pod, options.container, time.time(), self.speed)
        if not options.follow:
            return Response(200, podlogs.render(podlogs.select(lines, options), options), content_type="text/plain")

        def read_pod() -> dict[str, Any] | None:
            stored = self.api.store.get(pods.key, namespace, name)
            return None if stored is None else stored.decode()

        chunks = podlogs.follow(read_pod, options, self.speed, request.disconnected)
        return StreamResponse(200, chunks, content_type="text/plain")

    def _bookmark(self, rtype: ResourceType, rv: int, initial_events_end: bool = False) -> bytes:
        metadata: dict[str, Any] = {"resourceVersion": str(rv)}
        if initial_events_end:
            metadata["annotations"] = {"k8s.io/initial-events-end": "true"}
        return event_line(
            "BOOKMARK", dumps({"kind": rtype.kind, "apiVersion": rtype.api_version, "metadata": metadata})
        )

    async def _stream(
        self,
        request: Request,
        rtype: ResourceType,
        watcher: Watcher,
        initial: list[bytes],
        duration: float,
        bookmarks: bool,
    ) -> AsyncIterator[bytes]:
        store = self.api.store
        deadline = time.monotonic() + duration
        next_bookmark = time.monotonic() + self.bookmark_interval
        try:
            if initial:
                yield b"".join(initial)
            while not watcher.closed:
                while watcher.queue:
                    batch = b"".join(watcher.queue)
                    watcher.queue.clear()
                    yield batch
                now = time.monotonic()
                if now >= deadline or watcher.closed:
                    break
                if bookmarks and now >= next_bookmark:
                    next_bookmark = now + self.bookmark_interval
                    yield self._bookmark(rtype, store.rv)
                watcher.wakeup.clear()
                wait_for = min(deadline, next_bookmark if bookmarks else deadline) - now
                waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(watcher.wakeup.wait())]
                if request.disconnected is not None:
                    waiters.append(request.disconnected)
                await asyncio.wait(waiters, timeout=max(wait_for, 0.0), return_when=asyncio.FIRST_COMPLETED)
                waiters[0].cancel()
                if request.disconnected is not None and request.disconnected.done():
                    break
        finally:
            store.remove_watcher(watcher)


async def _single(line: bytes) -> AsyncIterator[bytes]:
    yield line


def _warned(response: Response, options: WriteOptions) -> Response:
    """Add the request's warnings as kube-apiserver does (`Warning: 299 - "<text>"`, which
    kubectl prints as `Warning: <text>`)."""
    if options.warnings:
        response.headers["Warning"] = ", ".join(
            '299 - "' + text.replace("\\", "\\\\").replace('"', '\\"') + '"' for text in options.warnings
        )
    return response
