"""Rendering of the component kinds, pure: jobs and hooks, declared objects (placed, labelled,
scoped), chart values and the outputs Secret, autoscalers and disruption budgets; and the rollout
assessment of Jobs and DaemonSets."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from google.protobuf import json_format

from threeport.registry.v1alpha1 import application_pb2
from threeport_workload_delivery.domain import rollout
from threeport_workload_delivery.domain.render_jobs import hook_objects
from threeport_workload_delivery.domain.rendering import DependencyOutputs, RenderError, RenderInput, render

CRD = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "ws.x.io"},
       "spec": {"group": "x.io", "scope": "Namespaced", "names": {"kind": "W", "plural": "ws"},
                "versions": [{"name": "v1"}]}}
DEPENDENCIES = {"db": DependencyOutputs("postgres", {"host": "db.local"}, {"password": "s3cret"})}


def rendered(spec: dict[str, Any], *, charts: dict[str, list[dict[str, Any]]] | None = None,
             allow_cluster_scoped: bool = False) -> list[dict[str, Any]]:
    return render(RenderInput(
        project="acme", deployment="projects/acme/deployments/app-dev", application="app", environment="dev",
        namespace="acme-app-dev", spec=json_format.ParseDict(spec, application_pb2.ApplicationSpec()),
        images={}, dependencies=DEPENDENCIES, charts=charts or {}, allow_cluster_scoped=allow_cluster_scoped))


def named(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def test_an_autoscaled_container_gets_an_hpa_and_a_pdb_and_no_replicas() -> None:
    objects = rendered({"components": {"api": {
        "image": "a:1", "autoscaling": {"min": 2, "max": 5, "memory": 60},
        "disruptionBudget": {"maxUnavailable": "25%"}}}})
    (deployment,) = named(objects, "Deployment")
    assert "replicas" not in deployment["spec"]
    (hpa,) = named(objects, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "app-api"
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["memory"]
    (pdb,) = named(objects, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == "25%"
    assert pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]


def test_jobs_are_named_by_content_and_hooks_are_marked() -> None:
    spec = {"components": {"migrate": {"kind": "job", "image": "m:1"}, "cron": {"kind": "job", "image": "c:1",
                                                                                  "schedule": "@daily"}},
            "hooks": {"preDeploy": ["migrate"]}}
    first = rendered(spec)
    (job,) = named(first, "Job")
    assert job["metadata"]["annotations"] == {"threeport.io/hook": "pre-deploy"}
    assert job["spec"]["backoffLimit"] == 0 and job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    (cron,) = named(first, "CronJob")
    assert cron["spec"]["schedule"] == "@daily" and cron["metadata"]["name"] == "app-cron"
    spec["components"]["migrate"]["image"] = "m:2"
    (changed,) = named(rendered(spec), "Job")
    assert changed["metadata"]["name"] != job["metadata"]["name"]
    hooks = hook_objects(first, json_format.ParseDict(spec, application_pb2.ApplicationSpec()))
    assert hooks[0]["kind"] == "Namespace" and {o["kind"] for o in hooks[1:]} == {"ServiceAccount", "ConfigMap", "Job"}


def test_declared_objects_are_placed_and_labelled_and_cluster_scope_needs_the_environment() -> None:
    text = "---\n".join(yaml.safe_dump(o) for o in (
        CRD, {"apiVersion": "x.io/v1", "kind": "W", "metadata": {"name": "w"}},
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "d", "labels": {"own": "yes"}},
         "spec": {"template": {"metadata": {"labels": {"app": "d"}}}}}))
    spec = {"components": {"extras": {"kind": "manifests", "manifests": text}}}
    with pytest.raises(RenderError, match="allowClusterScoped"):
        rendered(spec)
    objects = rendered(spec, allow_cluster_scoped=True)
    crd, widget, daemons = named(objects, "CustomResourceDefinition")[0], named(objects, "W")[0], named(
        objects, "DaemonSet")[0]
    assert "namespace" not in crd["metadata"] and widget["metadata"]["namespace"] == "acme-app-dev"
    assert daemons["metadata"]["labels"]["own"] == "yes"
    assert daemons["metadata"]["labels"]["threeport.io/deployment"] == "app-dev"
    assert daemons["spec"]["template"]["metadata"]["labels"]["threeport.io/component"] == "extras"


def test_a_chart_component_gets_its_rendered_objects_and_the_outputs_secret() -> None:
    chart = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "elsewhere"}}]
    spec = {"components": {"web": {"kind": "helm", "helm": {"repository": "https://c.io", "chart": "c",
                                                              "version": "1.0.0"}}},
            "dependencies": {"db": {"type": "postgres"}}}
    objects = rendered(spec, charts={"web": chart})
    (config,) = [o for o in named(objects, "ConfigMap") if o["metadata"]["name"] == "c"]
    assert config["metadata"]["namespace"] == "acme-app-dev"
    (secret,) = named(objects, "Secret")
    assert secret["metadata"]["name"] == "app-web-outputs" and set(secret["data"]) == {"db.password"}


def test_job_and_daemonset_rollouts() -> None:
    job = {"kind": "Job", "metadata": {"name": "j", "labels": {}},
           "spec": {"template": {"spec": {"containers": [{"image": "m:1"}]}}}}
    failed = {"status": {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                                         "message": "Job has reached the specified backoff limit"}]}}
    assessed = rollout.assess([(job, failed)], [])
    assert assessed.phase == rollout.FAILED and assessed.reason == "BackoffLimitExceeded"
    complete = {"status": {"conditions": [{"type": "Complete", "status": "True"}]}}
    assert rollout.assess([(job, complete)], []).phase == rollout.AVAILABLE
    daemons = {"kind": "DaemonSet", "metadata": {"name": "d", "labels": {}},
               "spec": {"template": {"spec": {"containers": [{"image": "d:1"}]}}}}
    live = {"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "desiredNumberScheduled": 2,
                                                      "updatedNumberScheduled": 2, "numberAvailable": 1}}
    assert rollout.assess([(daemons, live)], []).phase == rollout.PROGRESSING
    live["status"]["numberAvailable"] = 2
    assert rollout.assess([(daemons, live)], []).phase == rollout.AVAILABLE
