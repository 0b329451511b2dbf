"""A Kubernetes client for any kind: server-side apply, get, list by label, delete, wait.

Objects are plain JSON dicts (``apiVersion``, ``kind``, ``metadata``...). Writes are server-side
apply with field manager ``threeport`` and ``force``: Threeport owns the fields it sets and must
win over hand edits (that is what drift correction means). The labels of DESIGN §5 are the
caller's: they say who owns an object, which only the caller knows.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from threeport_model import labels
from threeport_runtime.kube.connection import Connection
from threeport_runtime.kube.discovery import Discovery, Resource
from threeport_runtime.kube.errors import NotFound, NotReady, Unauthorized, Unreachable
from threeport_runtime.kube.readiness import readiness
from threeport_runtime.kube.transport import APPLY_PATCH, Query, Transport

FIELD_MANAGER = "threeport"
MANAGED_BY_LABEL = labels.MANAGED_BY_LABEL
PAGE_SIZE = 500

Object = dict[str, Any]


def describe(obj: Mapping[str, Any]) -> str:
    """``Deployment shop/api`` for messages."""
    metadata = obj.get("metadata") or {}
    namespace = metadata.get("namespace")
    name = metadata.get("name", "?")
    return f"{obj.get('kind', '?')} {namespace + '/' if namespace else ''}{name}"


class KubeClient:
    """One cluster's API for as long as its credentials are valid.

    ``stale`` turns true when the server refused the credentials or could not be reached; a
    ``KubePool`` then rebuilds the client from freshly read credentials.
    """

    def __init__(self, connection: Connection, *, call_timeout: float = 10.0):
        self.server = connection.server
        self._transport = Transport(connection, call_timeout)
        self.discovery = Discovery(self._discover)
        self.stale = False

    async def close(self) -> None:
        await self._transport.close()

    async def request(
        self, method: str, path: str, *, what: str, query: Query = (), body: Any = None,
        content_type: str = "application/json", call_timeout: float | None = None,
    ) -> Any:
        """Any REST call, raw JSON in and out (the fast path for reads of only a few fields)."""
        try:
            return await self._transport.call(
                method, path, what=what, query=query, body=body, content_type=content_type, call_timeout=call_timeout
            )
        except (Unauthorized, Unreachable):
            self.stale = True
            raise

    async def _discover(self, path: str) -> Any:
        return await self.request("GET", path, what=f"discovering {path}")

    async def resource(self, api_version: str, kind: str) -> Resource:
        return await self.discovery.resource(api_version, kind)

    async def _path(self, obj: Mapping[str, Any]) -> str:
        metadata = obj.get("metadata") or {}
        resource = await self.resource(obj["apiVersion"], obj["kind"])
        return resource.object_path(metadata["name"], metadata.get("namespace", ""))

    async def version(self) -> Object:
        """``/version`` (needs no credentials on most servers)."""
        answer: Object = await self.request("GET", "/version", what="reading the version")
        return answer

    async def apply(self, manifest: Mapping[str, Any], *, force: bool = True) -> Object:
        """Server-side apply; the server's copy of the object afterwards."""
        answer: Object = await self.request(
            "PATCH",
            await self._path(manifest),
            what=f"applying {describe(manifest)}",
            query=[("fieldManager", FIELD_MANAGER), ("force", "true" if force else "false")],
            body=manifest,
            content_type=APPLY_PATCH,
        )
        return answer

    async def read(self, ref: Mapping[str, Any]) -> Object:
        """The live object ``ref`` names (apiVersion, kind, metadata.name/namespace); NotFound if absent."""
        answer: Object = await self.request("GET", await self._path(ref), what=f"reading {describe(ref)}")
        return answer

    async def get(self, ref: Mapping[str, Any]) -> Object | None:
        """The live object, or None when it does not exist."""
        try:
            return await self.read(ref)
        except NotFound:
            return None

    async def list(
        self, api_version: str, kind: str, selector: str = "", namespace: str = "", *, fields: str = ""
    ) -> list[Object]:
        """Every object of a kind matching a label (and field) selector, all pages, in one namespace
        or in all. Items carry ``apiVersion`` and ``kind`` (list answers leave them out)."""
        resource = await self.resource(api_version, kind)
        items: list[Object] = []
        token = ""
        while True:
            query = [("limit", str(PAGE_SIZE))]
            if selector:
                query.append(("labelSelector", selector))
            if fields:
                query.append(("fieldSelector", fields))
            if token:
                query.append(("continue", token))
            page = await self.request("GET", resource.collection_path(namespace), what=f"listing {kind}", query=query)
            for item in page.get("items") or []:
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
                items.append(item)
            token = (page.get("metadata") or {}).get("continue") or ""
            if not token:
                return items

    async def watch(self, path: str, *, what: str, query: Query) -> AsyncIterator[Object]:
        """The events of a watch on a collection (``query`` has ``watch=true`` and bounds it)."""
        try:
            async for event in self._transport.stream(path, what=what, query=query):
                yield event
        except (Unauthorized, Unreachable):
            self.stale = True
            raise

    def pod_log_lines(
        self, namespace: str, pod: str, *, container: str = "", follow: bool = False, since_seconds: int = 0,
        tail_lines: int | None = None, timestamps: bool = False,
    ) -> AsyncIterator[str]:
        """A pod's log as it streams, line by line (``GET .../pods/NAME/log``), with kubectl's options; with ``follow``
        it ends when the container stops or the caller leaves the iteration."""
        query: list[tuple[str, str]] = []
        for key, value, wanted in (("container", container, bool(container)), ("follow", "true", follow),
                                   ("sinceSeconds", str(since_seconds), since_seconds > 0),
                                   ("tailLines", str(tail_lines), tail_lines is not None),
                                   ("timestamps", "true", timestamps)):
            if wanted:
                query.append((key, value))
        return self._transport.stream_lines(
            f"/api/v1/namespaces/{namespace}/pods/{pod}/log", what=f"reading the log of pod {namespace}/{pod}",
            query=query)

    async def delete(self, ref: Mapping[str, Any], *, propagation: str = "Background") -> bool:
        """Deletes the object; False when it was already gone."""
        try:
            await self.request(
                "DELETE",
                await self._path(ref),
                what=f"deleting {describe(ref)}",
                body={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation},
            )
        except NotFound:
            return False
        return True

    async def pod_log(
        self, namespace: str, pod: str, *, container: str = "", tail_lines: int = 0, since_seconds: int = 0
    ) -> str:
        """The log of a Pod's container (the first, unless named), as ``kubectl logs`` reads it:
        the last ``tail_lines`` lines and those of the last ``since_seconds``, when given."""
        query: list[tuple[str, str]] = []
        if container:
            query.append(("container", container))
        if tail_lines:
            query.append(("tailLines", str(tail_lines)))
        if since_seconds:
            query.append(("sinceSeconds", str(since_seconds)))
        path = f"/api/v1/namespaces/{namespace}/pods/{pod}/log"
        try:
            return await self._transport.text(path, what=f"reading the log of pod {namespace}/{pod}", query=query)
        except (Unauthorized, Unreachable):
            self.stale = True
            raise

    async def wait_ready(self, ref: Mapping[str, Any], *, within: float) -> Object:
        """Waits until the object exists and is ready (see ``readiness``), following a watch
        rather than polling; raises ``NotReady`` with what it still waited for at the deadline."""
        deadline = time.monotonic() + within
        waiting_for = "the object to exist"
        resource = await self.resource(ref["apiVersion"], ref["kind"])
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                async with asyncio.timeout(remaining):
                    async for item in self._sightings(ref, resource, remaining):
                        if item is None:
                            waiting_for = "the object to exist"
                            continue
                        state = readiness(item)
                        if state.ready:
                            return item
                        waiting_for = state.message
            except TimeoutError:
                break
        raise NotReady(f"{describe(ref)} on {self.server} is not ready after {within:g}s: {waiting_for}")

    async def _sightings(
        self, ref: Mapping[str, Any], resource: Resource, remaining: float
    ) -> AsyncIterator[Object | None]:
        """The object as listed now, then as a watch sees it change (None once deleted); ends
        when the watch does (its timeout, or an ERROR such as 410 Gone: list again)."""
        metadata = ref.get("metadata") or {}
        path = resource.collection_path(metadata.get("namespace", ""))
        by_name = ("fieldSelector", f"metadata.name={metadata['name']}")
        page = await self.request("GET", path, what=f"reading {describe(ref)}", query=[by_name])
        for item in page.get("items") or []:
            yield {"apiVersion": ref["apiVersion"], "kind": ref["kind"], **item}
        query = [
            ("watch", "true"),
            by_name,
            ("resourceVersion", (page.get("metadata") or {}).get("resourceVersion", "")),
            ("timeoutSeconds", str(max(1, int(remaining) + 1))),
        ]
        async for event in self.watch(path, what=f"watching {describe(ref)}", query=query):
            if event.get("type") == "ERROR":
                return
            if event.get("type") == "DELETED":
                yield None
            elif event.get("type") in ("ADDED", "MODIFIED"):
                yield {"apiVersion": ref["apiVersion"], "kind": ref["kind"], **(event.get("object") or {})}
