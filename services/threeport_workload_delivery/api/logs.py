"""StreamLogs: a deployment's pod logs, read from its cluster as ``kubectl logs`` reads them.

The pods are the deployment's (its project and deployment labels, and the component's when one
is asked for) that have started; each pod's container is its component. Without ``follow`` the
logs are sent pod by pod; with it, every pod's lines are streamed as they come, until the caller
leaves or every pod's stream ends (its container stopped, or the pod went). Pods started after the
call began are not picked up: call again (as with ``kubectl logs -f -l ...``).

The gateway has already checked the caller's project role; this reads only the deployment named.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from threeport.delivery.v1alpha1 import deployment_pb2
from threeport_model.names import is_dns_label
from threeport_runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument, Unavailable
from threeport_runtime.kube.client import KubeClient
from threeport_runtime.kube.errors import KubeError
from threeport_runtime.kube.pool import KubePool
from threeport_runtime.rpc.standard_methods import StandardMethods
from threeport_workload_delivery.domain import names

Response = deployment_pb2.StreamLogsResponse
STARTED_PHASES = ("Running", "Succeeded", "Failed")
_DONE = object()


def _violations(request: deployment_pb2.StreamLogsRequest) -> list[FieldViolation]:
    found = []
    parts = request.name.split("/")
    if len(parts) != 4 or parts[0] != "projects" or parts[2] != "deployments" or not all(
            is_dns_label(part) for part in parts[1::2]):
        found.append(FieldViolation("name", "must be projects/{project}/deployments/{deployment}"))
    if request.component and not is_dns_label(request.component):
        found.append(FieldViolation("component", "must be a component name (a DNS-1123 label)"))
    if request.since_seconds < 0:
        found.append(FieldViolation("since_seconds", "must be 0 (all) or more"))
    if request.tail_lines < 0:
        found.append(FieldViolation("tail_lines", "must be 0 (all) or more"))
    return found


class LogStreamer:
    def __init__(self, methods: StandardMethods[deployment_pb2.Deployment], pool: KubePool):
        self._deployments = methods.repository
        self._pool = pool

    async def stream(self, request: deployment_pb2.StreamLogsRequest) -> AsyncIterator[Response]:
        if violations := _violations(request):
            raise InvalidArgument.for_fields(violations)
        deployment = await self._deployments.get(request.name)
        cluster, namespace = deployment.status.cluster, deployment.status.namespace
        if not cluster or not namespace:
            raise FailedPrecondition(f"{request.name} is not running in a cluster yet; see `tptctl describe "
                                     f"deployment {names.last_segment(request.name)}`")
        selector = ",".join([f"{names.PROJECT_LABEL}={names.project_of(request.name)}",
                             f"{names.DEPLOYMENT_LABEL}={names.last_segment(request.name)}",
                             *([f"{names.COMPONENT_LABEL}={request.component}"] if request.component else [])])
        try:
            client = await self._pool.client(cluster)
            pods = await client.list("v1", "Pod", selector, namespace)
        except KubeError as error:
            raise Unavailable(f"cannot read the pods of {request.name}: {error}") from None
        started = sorted((p for p in pods if (p.get("status") or {}).get("phase") in STARTED_PHASES
                          and not (p.get("metadata") or {}).get("deletionTimestamp")),
                         key=lambda p: str(p["metadata"]["name"]))
        if not started:
            which = f"component {request.component!r} of " if request.component else ""
            raise FailedPrecondition(f"{which}{request.name} has no started pods; see `tptctl describe deployment "
                                     f"{names.last_segment(request.name)}`")
        if not request.follow:
            for pod in started:
                async for response in self._pod_lines(client, pod, request):
                    yield response
            return
        async for response in self._merged(client, started, request):
            yield response

    async def _pod_lines(self, client: KubeClient, pod: dict[str, Any],
                         request: deployment_pb2.StreamLogsRequest) -> AsyncIterator[Response]:
        metadata = pod["metadata"]
        component = (metadata.get("labels") or {}).get(names.COMPONENT_LABEL, "")
        containers = [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []]
        container = component if component in containers else (containers[0] if containers else "")
        lines = client.pod_log_lines(metadata.get("namespace", ""), metadata["name"], container=container,
                               follow=request.follow, since_seconds=int(request.since_seconds),
                               tail_lines=request.tail_lines or None, timestamps=request.timestamps)
        try:
            async for line in lines:
                yield Response(pod=metadata["name"], component=component, line=line)
        except KubeError as error:
            raise Unavailable(f"reading the log of pod {metadata['name']}: {error}") from None

    async def _merged(self, client: KubeClient, pods: list[dict[str, Any]],
                      request: deployment_pb2.StreamLogsRequest) -> AsyncIterator[Response]:
        """Every pod's followed lines, interleaved as they arrive."""
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=1000)

        async def pump(pod: dict[str, Any]) -> None:
            try:
                async for response in self._pod_lines(client, pod, request):
                    await queue.put(response)
                await queue.put(_DONE)
            except Exception as error:  # handed to the stream, which raises it to the caller
                await queue.put(error)

        tasks = [asyncio.create_task(pump(pod)) for pod in pods]
        try:
            running = len(tasks)
            while running:
                item = await queue.get()
                if item is _DONE:
                    running -= 1
                elif isinstance(item, Exception):
                    raise item
                else:
                    yield item
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
