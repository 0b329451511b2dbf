"""``kind: job`` components: a Job run to completion, or a CronJob when it has a ``schedule``;
and pre-deploy hooks (jobs the release waits for before anything else rolls).

A Job's Pod template cannot be changed once created, so a Job is named after a hash of its
spec: a changed job (a new image, command or env) is a new Job, and the old one is pruned like
any object no longer rendered. The same naming makes a hook run once per distinct content,
not once per reconcile. Hooks do not retry (``backoffLimit: 0``): a failed migration fails the
release at once, with its log tail; ordinary jobs get Kubernetes' usual retries.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from threeport.registry.v1alpha1 import application_pb2
from threeport_workload_delivery.domain import names

Manifest = dict[str, Any]
HOOK_ANNOTATION = "threeport.io/hook"
PRE_DEPLOY = "pre-deploy"
JOB_BACKOFF_LIMIT = 3


def is_hook(spec: application_pb2.ApplicationSpec, component: str) -> bool:
    return component in spec.hooks.pre_deploy


def job_object(
    application: str,
    component: str,
    spec: application_pb2.Component,
    metadata: Manifest,
    template: Manifest,
    *,
    hook: bool,
) -> Manifest:
    """The Job (or CronJob) running ``template`` to completion."""
    pod_template = copy.deepcopy(template)
    pod_template["spec"]["restartPolicy"] = "Never"
    job_spec: Manifest = {"backoffLimit": 0 if hook else JOB_BACKOFF_LIMIT, "template": pod_template}
    if spec.schedule:
        return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": metadata,
                "spec": {"schedule": spec.schedule, "concurrencyPolicy": "Forbid",
                         "jobTemplate": {"metadata": {"labels": dict(metadata["labels"])}, "spec": job_spec}}}
    digest = hashlib.sha256(json.dumps(job_spec, sort_keys=True).encode()).hexdigest()[:10]
    job_metadata: Manifest = {**metadata, "name": names.object_name(application, component, digest)}
    if hook:
        job_metadata["annotations"] = {HOOK_ANNOTATION: PRE_DEPLOY}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": job_metadata, "spec": job_spec}


def hook_objects(objects: list[Manifest], spec: application_pb2.ApplicationSpec) -> list[Manifest]:
    """What the pre-deploy hooks need, in order: the namespace, then the hook components' objects
    (their Jobs and what the Jobs use). Empty when the application has no hooks."""
    hooks = set(spec.hooks.pre_deploy)
    if not hooks:
        return []
    return [o for o in objects if o["kind"] == "Namespace"] + [o for o in objects if _component_of(o) in hooks]


def _component_of(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata", {}).get("labels") or {}).get(names.COMPONENT_LABEL, ""))
