"""Pod logs: ``GET /api/v1/namespaces/NS/pods/NAME/log`` as the kubelet serves them through the
API server, with the parameters kubectl uses (``container``, ``follow``, ``previous``,
``sinceSeconds``, ``sinceTime``, ``tailLines``, ``timestamps``, ``limitBytes``).

Emulated containers run no process, so their log is synthesised, deterministically, from what
the pod says about them — the same pod always has the same log, and it grows with time:

- at ``startedAt``: ``starting container NAME image=IMAGE``, a ``listening`` line per declared
  port, then each line of the pod annotation ``kubesim.threeport.io/log`` (a simulation knob: the
  text a test wants the "process" to print, e.g. a migration's error);
- every ``Timing.log_interval`` seconds (scaled by the cluster's speed) while it runs: a
  ``heartbeat n=N`` line;
- when it terminated: ``exited code=C reason=R`` at ``finishedAt``.

Errors are the API server's: 404 for a missing pod, 400 naming the containers when a pod has
several and none is chosen, 400 ``is waiting to start`` for a container that has not started, and
400 for a ``previous`` log (emulated containers never restart).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from threeport_kubesim import errors
from threeport_kubesim.errors import ApiError

LOG_ANNOTATION = "kubesim.threeport.io/log"
FOLLOW_POLL = 0.2  # seconds between looks at the pod while following (its termination ends the stream)


@dataclass(frozen=True, slots=True)
class LogOptions:
    container: str = ""
    follow: bool = False
    previous: bool = False
    since: float | None = None  # a unix time: lines at or after it
    tail: int | None = None
    timestamps: bool = False
    limit_bytes: int | None = None


def parse_options(param: Callable[[str], str | None]) -> LogOptions:
    """The query parameters, refused as the API server refuses them."""

    def integer(name: str, minimum: int) -> int | None:
        text = param(name)
        if text in (None, ""):
            return None
        try:
            value = int(str(text))
        except ValueError:
            raise errors.bad_request(f"invalid {name} {text!r}: not an integer") from None
        if value < minimum:
            raise errors.bad_request(f"{name}: Invalid value: {value}: must be greater than {minimum - 1}")
        return value

    since_seconds = integer("sinceSeconds", 1)
    since_time = param("sinceTime")
    if since_seconds is not None and since_time:
        raise errors.bad_request("at most one of sinceTime or sinceSeconds may be specified")
    since: float | None = None
    if since_seconds is not None:
        since = time.time() - since_seconds
    elif since_time:
        try:
            since = datetime.fromisoformat(since_time.replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise errors.bad_request(f"invalid sinceTime {since_time!r}: not an RFC3339 time") from None
    return LogOptions(
        container=param("container") or "",
        follow=_flag(param("follow")),
        previous=_flag(param("previous")),
        since=since,
        tail=integer("tailLines", 0),
        timestamps=_flag(param("timestamps")),
        limit_bytes=integer("limitBytes", 1),
    )


def _flag(text: str | None) -> bool:
    return (text or "").lower() in ("true", "1")


def _time(text: str | None) -> float | None:
    if not text:
        return None
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def _stamp(at: float) -> str:
    """kubelet's RFC3339Nano with nine fractional digits."""
    moment = datetime.fromtimestamp(at, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{round(at % 1 * 1e9) % 1_000_000_000:09d}Z"


@dataclass(frozen=True, slots=True)
class ContainerLog:
    """The synthesised log of one started container."""

    pod: dict[str, Any]
    container: dict[str, Any]
    started: float
    finished: float | None
    exit_code: int
    reason: str
    interval: float

    def opening(self) -> list[str]:
        name = self.container.get("name", "")
        lines = [f'level=info msg="starting container" container={name} image={self.container.get("image", "")}']
        for port in self.container.get("ports") or []:
            lines.append(f'level=info msg="listening" port={port.get("containerPort")} '
                         f'protocol={port.get("protocol", "TCP")} name={port.get("name", "")}')
        annotation = ((self.pod.get("metadata") or {}).get("annotations") or {}).get(LOG_ANNOTATION, "")
        lines.extend(line for line in str(annotation).splitlines() if line)
        return lines

    def heartbeats_until(self, now: float) -> int:
        """How many heartbeat lines exist by ``now`` (or by the container's end)."""
        end = now if self.finished is None else min(now, self.finished)
        if self.interval <= 0 or end < self.started:
            return 0
        return int((end - self.started) / self.interval)

    def lines(self, first_heartbeat: int, last_heartbeat: int, with_opening: bool) -> list[tuple[float, str]]:
        out: list[tuple[float, str]] = []
        if with_opening:
            out.extend((self.started, line) for line in self.opening())
        for n in range(first_heartbeat, last_heartbeat + 1):
            out.append((self.started + n * self.interval, f'level=info msg="heartbeat" n={n}'))
        return out

    def closing(self) -> list[tuple[float, str]]:
        if self.finished is None:
            return []
        return [(self.finished, f'level=info msg="exited" code={self.exit_code} reason={self.reason}')]


def container_log(pod: dict[str, Any], options: LogOptions, interval: float) -> ContainerLog:
    """The log the request asks for, or the API server's refusal."""
    metadata = pod.get("metadata") or {}
    pod_name = metadata.get("name", "")
    containers = list((pod.get("spec") or {}).get("containers") or [])
    names = [c.get("name", "") for c in containers]
    chosen = options.container
    if not chosen:
        if len(containers) != 1:
            raise errors.bad_request(
                f"a container name must be specified for pod {pod_name}, choose one of: [{' '.join(names)}]"
            )
        chosen = names[0]
    if chosen not in names:
        raise errors.bad_request(f"container {chosen} is not valid for pod {pod_name}")
    if options.previous:
        raise errors.bad_request(f'previous terminated container "{chosen}" in pod "{pod_name}" not found')
    statuses = {s.get("name"): s for s in ((pod.get("status") or {}).get("containerStatuses") or [])}
    state = (statuses.get(chosen) or {}).get("state") or {}
    running, terminated = state.get("running"), state.get("terminated")
    if running is None and terminated is None:
        reason = (state.get("waiting") or {}).get("reason") or "ContainerCreating"
        raise errors.bad_request(f'container "{chosen}" in pod "{pod_name}" is waiting to start: {reason}')
    spec = next(c for c in containers if c.get("name") == chosen)
    if terminated is not None:
        started = _time(terminated.get("startedAt")) or time.time()
        return ContainerLog(pod, spec, started, _time(terminated.get("finishedAt")) or started,
                            int(terminated.get("exitCode", 0)), str(terminated.get("reason", "")), interval)
    assert running is not None
    return ContainerLog(pod, spec, _time(running.get("startedAt")) or time.time(), None, 0, "", interval)


def _render(lines: list[tuple[float, str]], timestamps: bool) -> bytes:
    return "".join((f"{_stamp(at)} {text}\n" if timestamps else f"{text}\n") for at, text in lines).encode()


def snapshot(log: ContainerLog, options: LogOptions, now: float) -> tuple[bytes, int]:
    """The log as it is at ``now`` after ``since``/``tailLines``, and the last heartbeat included."""
    last = log.heartbeats_until(now)
    lines = log.lines(1, last, with_opening=True) + (log.closing() if log.finished is not None else [])
    if options.since is not None:
        lines = [(at, text) for at, text in lines if at >= options.since]
    if options.tail is not None:
        lines = lines[len(lines) - options.tail:] if options.tail else []
    return _render(lines, options.timestamps), last


async def follow(
    log: ContainerLog, options: LogOptions, reread: Callable[[], dict[str, Any] | None],
    disconnected: asyncio.Future[None] | None,
) -> AsyncIterator[bytes]:
    """The current log, then each new line as it is written, until the container terminates, the
    pod is deleted or the client hangs up (as ``kubectl logs -f`` sees it)."""
    body, last = snapshot(log, options, time.time())
    sent = len(body)
    if body:
        yield _cap(body, options, 0)
    current = log
    while options.limit_bytes is None or sent < options.limit_bytes:
        if disconnected is not None and disconnected.done():
            return
        await asyncio.sleep(FOLLOW_POLL if current.interval <= 0 else min(FOLLOW_POLL, current.interval))
        pod = reread()
        ended = pod is None or (pod.get("metadata") or {}).get("deletionTimestamp")
        if pod is not None:
            try:
                current = container_log(pod, LogOptions(container=options.container or
                                                        current.container.get("name", "")), current.interval)
            except ApiError:
                ended = True
        newest = current.heartbeats_until(time.time())
        chunk_lines = current.lines(last + 1, newest, with_opening=False)
        last = max(last, newest)
        if current.finished is not None:
            chunk_lines += current.closing()
        if chunk_lines:
            chunk = _render(chunk_lines, options.timestamps)
            yield _cap(chunk, options, sent)
            sent += len(chunk)
        if ended or current.finished is not None:
            return


def _cap(chunk: bytes, options: LogOptions, sent: int) -> bytes:
    if options.limit_bytes is None:
        return chunk
    return chunk[: max(options.limit_bytes - sent, 0)]


def read(log: ContainerLog, options: LogOptions) -> bytes:
    """The whole (non-following) answer."""
    body, _ = snapshot(log, options, time.time())
    return _cap(body, options, 0)
