"""Scheduler and kubelet in one: binds Pods to Nodes, "pulls" images (or fails to, under the
image-pull fault), starts containers, reports readiness, and completes Pods of Jobs.

Pods that run to completion exit as their containers' shell scripts say (``sh -c "...; exit 1"``,
see ``scripts``), or as the simulation knob ``kubesim.threeport.io/exit-code: "N"`` on the Pod
says (every container exits with N); otherwise 0. A non-zero code fails the Pod (phase Failed,
container reason Error) as a failing command would."""

from __future__ import annotations

import time
from typing import Any

from threeport_kubesim import scripts
from threeport_kubesim.controllers.runtime import PODS, Controller, SimContext
from threeport_kubesim.meta import clone, now_rfc3339
from threeport_kubesim.store import GroupResource

EXIT_CODE_ANNOTATION = "kubesim.threeport.io/exit-code"
SCHEDULER = "default-scheduler"
KUBELET = "kubelet"


def _condition(kind: str, status: str, now: str, reason: str = "") -> dict[str, Any]:
    condition: dict[str, Any] = {
        "type": kind,
        "status": status,
        "lastProbeTime": None,
        "lastTransitionTime": now,
    }
    if reason:
        condition["reason"] = reason
    return condition


def _exit_code(pod: dict[str, Any], container: dict[str, Any]) -> int:
    """How the container of a Pod that runs to completion exits: the knob, else its script, else 0."""
    value = (pod["metadata"].get("annotations") or {}).get(EXIT_CODE_ANNOTATION)
    if value is not None:
        try:
            return int(value) % 256
        except ValueError:
            return 1  # an unreadable knob fails, as a broken command does
    script = scripts.run(container)
    return script.exit_code if script is not None else 0


def pod_is_ready(pod: dict[str, Any]) -> bool:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def pod_is_active(pod: dict[str, Any]) -> bool:
    phase = (pod.get("status") or {}).get("phase", "Pending")
    return phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


class PodLifecycle(Controller):
    name = "pods"

    def __init__(self, ctx: SimContext) -> None:
        super().__init__(ctx)
        # UID -> monotonic time before which the pod's next transition must not happen.
        self._not_before: dict[str, float] = {}
        self._next_node = 0
        self._next_ip = 2

    def keys_for(
        self, group_resource: GroupResource, event_type: str, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> list[tuple[str, str]]:
        metadata = obj["metadata"]
        if event_type == "DELETED":
            self._not_before.pop(metadata.get("uid", ""), None)
            return []
        return [(metadata["namespace"], metadata["name"])]

    def _wait(self, pod: dict[str, Any], seconds: float) -> None:
        delay = self.ctx.timing.scaled(seconds)
        uid = pod["metadata"]["uid"]
        self._not_before[uid] = time.monotonic() + delay
        self.ctx.enqueue(self.name, pod["metadata"]["namespace"], pod["metadata"]["name"], delay)

    def reconcile(self, namespace: str, name: str) -> None:
        pod = self.ctx.api.store.get_object(PODS, namespace, name)
        if pod is None or pod["metadata"].get("deletionTimestamp"):
            return
        uid = pod["metadata"]["uid"]
        not_before = self._not_before.get(uid)
        if not_before is not None:
            remaining = not_before - time.monotonic()
            if remaining > 0.001:
                self.ctx.enqueue(self.name, namespace, name, remaining)
                return
            del self._not_before[uid]
        status = pod.get("status") or {}
        phase = status.get("phase")
        if phase in ("Succeeded", "Failed"):
            return
        if not (pod.get("spec") or {}).get("nodeName"):
            self._schedule(pod)
        elif phase == "Running":
            self._maybe_complete(pod)
        else:
            self._start(pod)

    def _schedule(self, pod: dict[str, Any]) -> None:
        nodes = [n for n in self.ctx.nodes() if not (n.get("spec") or {}).get("unschedulable")]
        now = now_rfc3339()
        new = clone(pod)
        if not nodes:
            new["status"] = {
                "phase": "Pending",
                "conditions": [_condition("PodScheduled", "False", now, "Unschedulable")],
            }
            self._write(pod, new)
            return
        node = nodes[self._next_node % len(nodes)]
        self._next_node += 1
        node_name = node["metadata"]["name"]
        new["spec"]["nodeName"] = node_name
        new["status"] = {
            "phase": "Pending",
            "conditions": [_condition("PodScheduled", "True", now)],
            "qosClass": "BestEffort",
        }
        written = self._write(pod, new)
        if written is not None:
            self.ctx.event(
                written,
                "Normal",
                "Scheduled",
                f"Successfully assigned {pod['metadata']['namespace']}/{pod['metadata']['name']} to {node_name}",
                SCHEDULER,
            )
            self._wait(written, self.ctx.timing.image_pull)

    def _write(self, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any] | None:
        return self.ctx.api.controller_write(self.ctx.rtype(PODS), old, new, subresource="all")

    def _containers(self, pod: dict[str, Any]) -> list[dict[str, Any]]:
        return list((pod.get("spec") or {}).get("containers") or [])

    def _start(self, pod: dict[str, Any]) -> None:
        now = now_rfc3339()
        status = clone(pod.get("status") or {})
        previous = {c.get("name"): c for c in status.get("containerStatuses") or []}
        failing = [c for c in self._containers(pod) if self.ctx.faults.image_fails(str(c.get("image", "")))]
        host_ip = self._host_ip(pod)
        status.setdefault("startTime", now)
        status["hostIP"] = host_ip
        status["hostIPs"] = [{"ip": host_ip}]
        if failing:
            statuses = []
            for container in self._containers(pod):
                image = str(container.get("image", ""))
                last_reason = (
                    ((previous.get(container.get("name")) or {}).get("state") or {}).get("waiting") or {}
                ).get("reason")
                if self.ctx.faults.image_fails(image):
                    reason = "ImagePullBackOff" if last_reason == "ErrImagePull" else "ErrImagePull"
                    message = (
                        f'Back-off pulling image "{image}"'
                        if reason == "ImagePullBackOff"
                        else f'rpc error: code = NotFound desc = failed to pull and unpack image "{image}": not found'
                    )
                    if reason == "ErrImagePull":
                        self.ctx.event(pod, "Normal", "Pulling", f'Pulling image "{image}"', KUBELET)
                        self.ctx.event(pod, "Warning", "Failed", f'Failed to pull image "{image}": {message}', KUBELET)
                        self.ctx.event(pod, "Warning", "Failed", "Error: ErrImagePull", KUBELET)
                    else:
                        self.ctx.event(pod, "Normal", "BackOff", f'Back-off pulling image "{image}"', KUBELET)
                        self.ctx.event(pod, "Warning", "Failed", "Error: ImagePullBackOff", KUBELET)
                    state = {"waiting": {"reason": reason, "message": message}}
                else:
                    state = {"waiting": {"reason": "PodInitializing"}}
                statuses.append(self._container_status(container, state, ready=False))
            status["phase"] = "Pending"
            status["containerStatuses"] = statuses
            status["conditions"] = self._conditions(pod, ready=False, now=now, reason="ContainersNotReady")
            new = clone(pod)
            new["status"] = status
            written = self._write(pod, new)
            if written is not None:
                self._wait(written, self.ctx.timing.pull_backoff)
            return
        for container in self._containers(pod):
            image = str(container.get("image", ""))
            self.ctx.event(pod, "Normal", "Pulled", f'Container image "{image}" already present on machine', KUBELET)
            self.ctx.event(pod, "Normal", "Created", f"Created container: {container.get('name')}", KUBELET)
            self.ctx.event(pod, "Normal", "Started", f"Started container {container.get('name')}", KUBELET)
        status["phase"] = "Running"
        status["podIP"] = self._pod_ip()
        status["podIPs"] = [{"ip": status["podIP"]}]
        status["containerStatuses"] = [
            self._container_status(c, {"running": {"startedAt": now}}, ready=True) for c in self._containers(pod)
        ]
        status["conditions"] = self._conditions(pod, ready=True, now=now)
        new = clone(pod)
        new["status"] = status
        written = self._write(pod, new)
        if written is not None and self._is_job_pod(written):
            self._wait(written, self.ctx.timing.job_run)

    def _maybe_complete(self, pod: dict[str, Any]) -> None:
        if not self._is_job_pod(pod):
            return
        now = now_rfc3339()
        new = clone(pod)
        status = new["status"]
        codes = [_exit_code(pod, c) for c in self._containers(pod)]
        failed = any(codes)
        status["phase"] = "Failed" if failed else "Succeeded"
        started = {c.get("name"): ((c.get("state") or {}).get("running") or {}).get("startedAt", now)
                   for c in status.get("containerStatuses") or []}
        status["containerStatuses"] = [
            self._container_status(
                c,
                {"terminated": {"exitCode": code, "reason": "Error" if code else "Completed",
                                "startedAt": started.get(c.get("name"), now), "finishedAt": now}},
                ready=False,
            )
            for c, code in zip(self._containers(pod), codes, strict=True)
        ]
        status["conditions"] = self._conditions(pod, ready=False, now=now,
                                                reason="PodFailed" if failed else "PodCompleted")
        self._write(pod, new)

    def _is_job_pod(self, pod: dict[str, Any]) -> bool:
        return any(r.get("kind") == "Job" for r in pod["metadata"].get("ownerReferences") or []) or (
            pod.get("spec") or {}
        ).get("restartPolicy") in ("Never", "OnFailure")

    def _container_status(self, container: dict[str, Any], state: dict[str, Any], ready: bool) -> dict[str, Any]:
        image = str(container.get("image", ""))
        result: dict[str, Any] = {
            "name": container.get("name", ""),
            "image": image,
            "imageID": "",
            "ready": ready,
            "restartCount": 0,
            "started": "running" in state,
            "state": state,
        }
        if "running" in state or "terminated" in state:
            result["imageID"] = f"docker.io/library/{image.split('/')[-1]}@sha256:{'0' * 64}"
            result["containerID"] = f"containerd://{abs(hash((image, container.get('name')))):064x}"[:77]
        return result

    def _conditions(self, pod: dict[str, Any], ready: bool, now: str, reason: str = "") -> list[dict[str, Any]]:
        state = "True" if ready else "False"
        return [
            _condition("PodReadyToStartContainers", "True", now),
            _condition("Initialized", "True", now),
            _condition("Ready", state, now, "" if ready else reason),
            _condition("ContainersReady", state, now, "" if ready else reason),
            _condition("PodScheduled", "True", now),
        ]

    def _host_ip(self, pod: dict[str, Any]) -> str:
        node = self.ctx.api.store.get_object(("", "nodes"), "", pod["spec"]["nodeName"])
        for address in ((node or {}).get("status") or {}).get("addresses") or []:
            if address.get("type") == "InternalIP":
                return str(address.get("address"))
        return "172.18.0.2"

    def _pod_ip(self) -> str:
        n = self._next_ip
        self._next_ip += 1
        return f"10.244.{(n // 250) % 250}.{n % 250 + 1}"
