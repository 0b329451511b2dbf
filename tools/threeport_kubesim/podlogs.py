"""Pod logs as the API server serves them from the kubelet: ``GET .../pods/NAME/log``.

The emulator runs no processes, so what a container writes is declared on the Pod (usually
through a workload's Pod template) with simulation knobs, documented in the README:

- a shell script command (``sh -c "echo migrating; exit 1"``, see ``scripts``): its ``echo``
  lines, written when the container starts;
- ``kubesim.threeport.io/log``: text every container of the Pod writes when it starts, one log
  line per line (after its script's);
- ``kubesim.threeport.io/log-every``: simulated seconds; while running, each container also
  writes ``<container>: tick <n>`` that often (what ``follow`` is for);
- ``kubesim.threeport.io/exit-code`` (see ``controllers/pods.py``): how containers of Pods that
  run to completion exit.

Lines are computed from the Pod's container status times (when each container started and,
if it did, finished), so they need no storage, survive snapshots and are the same on every read.

Query parameters as the real API takes them: ``container`` (required when the Pod has several),
``follow``, ``tailLines``, ``sinceSeconds`` / ``sinceTime`` (at most one), ``timestamps``,
``limitBytes`` and ``previous`` (no container is ever restarted here, so there is never a
previous one). Errors use the API server's words and codes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from threeport_kubesim import errors, scripts
from threeport_kubesim.errors import ApiError
from threeport_kubesim.meta import parse_rfc3339

LOG_ANNOTATION = "kubesim.threeport.io/log"
LOG_EVERY_ANNOTATION = "kubesim.threeport.io/log-every"
FOLLOW_POLL = 0.05  # seconds between looks at the Pod while following
MAX_TICKS = 100_000  # a long-running container's ticks are bounded, like a kubelet's log rotation


@dataclass(frozen=True)
class LogRequest:
    container: str
    follow: bool
    tail_lines: int | None
    since: float | None  # epoch seconds
    timestamps: bool
    limit_bytes: int | None


def _int_param(value: str | None, name: str, minimum: int, pod: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise errors.bad_request(f"invalid value {value!r} for {name}: must be an integer") from None
    if number < minimum:
        raise errors.invalid("PodLogOptions", "", pod, [(
            "FieldValueInvalid", name, f"Invalid value: {number}: must be greater than or equal to {minimum}")])
    return number


def parse_request(pod: dict[str, Any], param: Callable[[str], str | None]) -> LogRequest:
    """The request's options for ``pod``, checked as the API server checks them."""
    name = pod["metadata"]["name"]
    containers = [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []]
    container = param("container") or ""
    if not container:
        if len(containers) != 1:
            raise errors.bad_request(
                f"a container name must be specified for pod {name}, choose one of: [{' '.join(containers)}]")
        container = containers[0]
    elif container not in containers:
        raise errors.bad_request(f"container {container} is not valid for pod {name}")
    if param("previous") in ("true", "1"):
        raise errors.bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
    since_seconds = _int_param(param("sinceSeconds"), "sinceSeconds", 1, name)
    since_time = param("sinceTime")
    if since_seconds is not None and since_time:
        raise errors.invalid("PodLogOptions", "", name, [(
            "FieldValueForbidden", "sinceSeconds", "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be "
            "specified")])
    since: float | None = None
    if since_seconds is not None:
        since = time.time() - since_seconds
    elif since_time:
        try:
            since = datetime.fromisoformat(since_time.replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise errors.bad_request(f"invalid value {since_time!r} for sinceTime: must be RFC 3339") from None
    return LogRequest(
        container=container,
        follow=param("follow") in ("true", "1"),
        tail_lines=_int_param(param("tailLines"), "tailLines", 0, name),
        since=since,
        timestamps=param("timestamps") in ("true", "1"),
        limit_bytes=_int_param(param("limitBytes"), "limitBytes", 1, name),
    )


def _state(pod: dict[str, Any], container: str) -> dict[str, Any]:
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == container:
            return dict(status.get("state") or {})
    return {}


def _started(pod: dict[str, Any], container: str) -> tuple[float, float | None]:
    """(started, finished or None) of the container; 400 as the API server says it when it has not started."""
    state = _state(pod, container)
    running, terminated = state.get("running"), state.get("terminated")
    if running and running.get("startedAt"):
        return parse_rfc3339(running["startedAt"]), None
    if terminated and terminated.get("startedAt"):
        return parse_rfc3339(terminated["startedAt"]), parse_rfc3339(terminated.get("finishedAt")
                                                                      or terminated["startedAt"])
    reason = ((state.get("waiting") or {}).get("reason")) or "ContainerCreating"
    if reason in ("ErrImagePull", "ImagePullBackOff"):
        reason = "trying and failing to pull image"
    raise ApiError(400, "BadRequest",
                   f'container "{container}" in pod "{pod["metadata"]["name"]}" is waiting to start: {reason}')


def lines_until(pod: dict[str, Any], container: str, now: float, speed: float) -> tuple[list[tuple[float, str]], bool]:
    """Every (time, text) the container wrote up to ``now``, and whether it has stopped writing."""
    started, finished = _started(pod, container)
    annotations = pod["metadata"].get("annotations") or {}
    containers = (pod.get("spec") or {}).get("containers") or []
    spec: dict[str, Any] = next((c for c in containers if c.get("name") == container), {})
    script = scripts.run(spec)
    written = [*(script.lines if script is not None else ()), *str(annotations.get(LOG_ANNOTATION, "")).splitlines()]
    lines = [(started, text) for text in written]
    end = now if finished is None else min(now, finished)
    try:
        every = float(annotations.get(LOG_EVERY_ANNOTATION, 0)) / (speed if speed > 0 else 1.0)
    except ValueError:
        every = 0.0
    if every > 0:
        count = min(int(max(0.0, end - started) / every), MAX_TICKS)
        lines.extend((started + k * every, f"{container}: tick {k}") for k in range(1, count + 1))
    return lines, finished is not None


def _format(line: tuple[float, str], timestamps: bool) -> bytes:
    at, text = line
    if not timestamps:
        return f"{text}\n".encode()
    stamp = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"
    return f"{stamp} {text}\n".encode()


def select(lines: list[tuple[float, str]], request: LogRequest) -> list[tuple[float, str]]:
    """The lines the request asks for first: since a time, then the last ``tailLines``."""
    if request.since is not None:
        lines = [line for line in lines if line[0] >= request.since]
    if request.tail_lines is not None:
        lines = lines[len(lines) - request.tail_lines:] if request.tail_lines else []
    return lines


def render(lines: list[tuple[float, str]], request: LogRequest) -> bytes:
    body = b"".join(_format(line, request.timestamps) for line in lines)
    return body[: request.limit_bytes] if request.limit_bytes is not None else body


async def follow(
    read_pod: Callable[[], dict[str, Any] | None],
    request: LogRequest,
    speed: float,
    disconnected: asyncio.Future[None] | None,
) -> AsyncIterator[bytes]:
    """The selected lines, then every new one as the container writes it, until the container
    stops, the Pod goes or the client hangs up."""
    pod = read_pod()
    if pod is None:
        return
    uid = pod["metadata"].get("uid")
    lines, stopped = lines_until(pod, request.container, time.time(), speed)
    sent = len(lines)
    budget = request.limit_bytes
    first = render(select(lines, request), request)
    if first:
        yield first
        if budget is not None:
            budget -= len(first)
    while not stopped and (budget is None or budget > 0):
        if disconnected is not None:
            await asyncio.wait([disconnected], timeout=FOLLOW_POLL)
            if disconnected.done():
                return
        else:
            await asyncio.sleep(FOLLOW_POLL)
        pod = read_pod()
        if pod is None or pod["metadata"].get("uid") != uid:
            return  # deleted, or replaced by another Pod of the same name
        try:
            lines, stopped = lines_until(pod, request.container, time.time(), speed)
        except ApiError:
            return  # the container is gone (the Pod was replaced)
        chunk = b"".join(_format(line, request.timestamps) for line in lines[sent:])
        sent = len(lines)
        if chunk:
            if budget is not None:
                chunk = chunk[:budget]
                budget -= len(chunk)
            yield chunk
