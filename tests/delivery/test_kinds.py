"""Component kinds through delivery against the emulator: a manifests app with a CRD and a custom
resource, a Helm chart app from a chart repository the test serves, jobs and pre-deploy hooks,
autoscalers and disruption budgets. Each deploys, updates, rolls back and deletes like containers."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from google.protobuf import json_format

from tests.addons.charts import chart_repository  # noqa: F401 - fixture
from threeport.registry.v1alpha1 import environment_pb2
from threeport.sdk import InvalidArgumentError
from threeport_runtime.testing import wait_until

from .conftest import PARENT, PROJECT, WITHIN, Stack, condition
from .samples import RATES

DRIFT_SECONDS = 1.0  # THREEPORT_DELIVERY_DRIFT_SECONDS in these tests
CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.kinds.example.com}
spec:
  group: kinds.example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
"""
WIDGET = "apiVersion: kinds.example.com/v1\nkind: Widget\nmetadata: {name: gear}\nspec: {teeth: %d}\n"
SETTINGS = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: fast}\n"
WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: registry.example.com/web:1.0.0}]}
"""


def manifests_app(teeth: int, *extra: str) -> dict[str, Any]:
    return {"components": {"extras": {"kind": "manifests",
                                      "manifests": "---\n".join([CRD, WIDGET % teeth, WEB, *extra])}}}


async def _environment(stack: Stack, env_id: str, **spec: Any) -> None:
    await stack.registry_admin.environment.create_environment(
        parent=PARENT, environment_id=env_id,
        environment=json_format.ParseDict({"spec": spec}, environment_pb2.Environment()))


async def eventually(check: Callable[[], Any], what: str) -> Any:
    """Waits until ``check()`` (a read of the cluster) is truthy."""
    async def probe() -> Any:
        return check()

    return await wait_until(probe, within=WITHIN, interval=0.1, what=what)


async def _released(stack: Stack, name: str, number: int) -> Any:
    return await stack.deployment_when(
        name, lambda d: d.status.current_release == number and condition(d, "Ready").status == 1,
        f"release {number} to be ready")


async def test_manifests_with_a_crd_deploy_update_roll_back_and_delete(stack: Stack) -> None:
    await _environment(stack, "ops", allowClusterScoped=True)
    await stack.apply_application("gadgets", manifests_app(12, SETTINGS))
    # dev does not allow cluster-scoped objects: the CRD is refused, naming the environment's field.
    dev = f"{PARENT}/deployments/gadgets-dev"
    await stack.admin.deployment.deploy(parent=PARENT, application="gadgets", environment="dev")
    refused = await stack.deployment_when(dev, lambda d: condition(d, "Ready") is not None
                                          and condition(d, "Ready").reason == "RenderFailed", "dev to refuse")
    assert "allowClusterScoped" in condition(refused, "Ready").message
    await stack.admin.deployment.delete_deployment(name=dev)
    await stack.gone(dev)

    ops = f"{PARENT}/deployments/gadgets-ops"
    namespace = f"{PROJECT}-gadgets-ops"
    await stack.admin.deployment.deploy(parent=PARENT, application="gadgets", environment="ops")
    await _released(stack, ops, 1)
    crd = stack.kube.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.kinds.example.com")
    assert crd["metadata"]["labels"]["threeport.io/deployment"] == "gadgets-ops"
    gear = stack.kube.get(f"/apis/kinds.example.com/v1/namespaces/{namespace}/widgets/gear")
    assert gear["spec"] == {"teeth": 12} and gear["metadata"]["labels"]["threeport.io/component"] == "extras"
    web = stack.kube.deployment(namespace, "web")
    assert web["status"]["availableReplicas"] == 2
    assert web["spec"]["template"]["metadata"]["labels"]["threeport.io/deployment"] == "gadgets-ops"
    assert stack.kube.get(f"/api/v1/namespaces/{namespace}/configmaps/settings")["data"] == {"mode": "fast"}

    # An update changes the custom resource and prunes what is no longer declared.
    await stack.apply_application("gadgets", manifests_app(20))
    await _released(stack, ops, 2)
    assert stack.kube.get(f"/apis/kinds.example.com/v1/namespaces/{namespace}/widgets/gear")["spec"] == {"teeth": 20}
    await eventually(lambda: stack.kube.get(f"/api/v1/namespaces/{namespace}/configmaps/settings") is None,
                     what="the ConfigMap to be pruned")

    # Drift in a custom resource is repaired.
    stack.kube.delete(f"/apis/kinds.example.com/v1/namespaces/{namespace}/widgets/gear")
    await eventually(lambda: stack.kube.get(f"/apis/kinds.example.com/v1/namespaces/{namespace}/widgets/gear"),
                     what="the Widget to be restored")

    await stack.deployer.deployment.rollback(name=ops, to_release=1)
    await _released(stack, ops, 3)
    assert stack.kube.get(f"/apis/kinds.example.com/v1/namespaces/{namespace}/widgets/gear")["spec"] == {"teeth": 12}
    assert stack.kube.get(f"/api/v1/namespaces/{namespace}/configmaps/settings") is not None

    await stack.admin.deployment.delete_deployment(name=ops)
    await stack.gone(ops)
    assert stack.kube.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.kinds.example.com") is None


async def test_a_helm_chart_deploys_updates_rolls_back_and_deletes(
    stack: Stack, chart_repository: tuple[str, dict[str, str]],  # noqa: F811
) -> None:
    url, digests = chart_repository
    chart = {"kind": "helm", "helm": {"repository": url, "chart": "echo", "version": "1.0.0",
                                      "values": {"replicas": 2, "message": "hello ${dependencies.svc.host}"}}}
    spec: dict[str, Any] = {"components": {"charts": chart},
                            "dependencies": {"svc": {"type": "application",
                                                     "params": {"application": "rates", "component": "svc"}}}}
    await stack.apply_application("rates", RATES)
    await stack.admin.deployment.deploy(parent=PARENT, application="rates", environment="dev")
    await stack.apply_application("echoes", spec)
    name = f"{PARENT}/deployments/echoes-dev"
    namespace = f"{PROJECT}-echoes-dev"
    await stack.admin.deployment.deploy(parent=PARENT, application="echoes", environment="dev")
    await _released(stack, name, 1)
    echo = stack.kube.deployment(namespace, "echoes-charts-echo")
    assert echo["spec"]["replicas"] == 2 and echo["metadata"]["labels"]["threeport.io/component"] == "charts"
    env = echo["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "MESSAGE", "value": f"hello rates-svc.{PROJECT}-rates-dev.svc.cluster.local"}]
    assert stack.kube.get(f"/api/v1/namespaces/{namespace}/configmaps/echoes-charts-sidecar")  # the subchart
    first = (await stack.releases(name))[0]
    assert any("kind: Deployment" in m and "echoes-charts-echo" in m for m in first.manifests)

    updated = copy.deepcopy(spec)
    updated["components"]["charts"]["helm"].update(version="1.1.0", values={"replicas": 1, "message": "v2"})
    await stack.apply_application("echoes", updated)
    await _released(stack, name, 2)
    assert stack.kube.deployment(namespace, "echoes-charts-echo")["spec"]["replicas"] == 1

    await stack.deployer.deployment.rollback(name=name, to_release=1)
    await _released(stack, name, 3)
    restored = stack.kube.deployment(namespace, "echoes-charts-echo")
    assert restored["spec"]["replicas"] == 2
    assert restored["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"].startswith("hello ")

    # A chart that does not render, or values its schema refuses, are refused at apply: nothing stored.
    generation = (await stack.registry_admin.application.get_application(name=f"{PARENT}/applications/echoes")
                  ).generation
    broken = copy.deepcopy(spec)
    broken["components"]["charts"]["helm"]["version"] = "2.0.0"
    with pytest.raises(InvalidArgumentError) as refused:
        await stack.apply_application("echoes", broken)
    assert "application.spec.components[charts].helm" in str(refused.value.field_violations)
    assert "nosuchfunction" in str(refused.value.field_violations)
    wrong = copy.deepcopy(spec)
    wrong["components"]["charts"]["helm"]["values"] = {"message": 42}
    with pytest.raises(InvalidArgumentError) as refused:
        await stack.apply_application("echoes", wrong)
    assert "application.spec.components[charts].helm.values" in str(refused.value.field_violations)
    assert "want string" in str(refused.value.field_violations)
    stored = await stack.registry_admin.application.get_application(name=f"{PARENT}/applications/echoes")
    assert stored.generation == generation
    assert digests["1.0.0"].startswith("sha256:")

    await stack.admin.deployment.delete_deployment(name=name)
    await stack.gone(name)
    assert stack.kube.deployment(namespace, "echoes-charts-echo") is None


MIGRATE_OK = ["sh", "-c", "echo migrating; echo done"]
MIGRATE_FAILS = ["sh", "-c", "echo migrating 3 tables; echo 'ERROR: relation users already exists'; exit 1"]


def hooked_app(command: list[str], api_image: str = "registry.example.com/ledger/api:1.0.0") -> dict[str, Any]:
    return {
        "components": {
            "api": {"image": api_image, "autoscaling": {"min": 2, "max": 5, "cpu": 70},
                    "disruptionBudget": {"minAvailable": "1"}},
            "migrate": {"kind": "job", "image": "registry.example.com/ledger/migrate:1.0.0", "command": command},
            "report": {"kind": "job", "image": "registry.example.com/ledger/report:1.0.0", "schedule": "0 3 * * *"},
        },
        "hooks": {"preDeploy": ["migrate"]},
    }


async def test_pre_deploy_hook_gates_the_release_and_its_failure_says_why(stack: Stack) -> None:
    await stack.apply_application("ledger", hooked_app(MIGRATE_OK))
    name = f"{PARENT}/deployments/ledger-dev"
    namespace = f"{PROJECT}-ledger-dev"
    await stack.admin.deployment.deploy(parent=PARENT, application="ledger", environment="dev")
    await _released(stack, name, 1)
    jobs = stack.kube.items(f"/apis/batch/v1/namespaces/{namespace}/jobs")
    assert [j["metadata"]["annotations"].get("threeport.io/hook") for j in jobs] == ["pre-deploy"]
    assert any(c["type"] == "Complete" for c in jobs[0]["status"]["conditions"])
    cron = stack.kube.get(f"/apis/batch/v1/namespaces/{namespace}/cronjobs/ledger-report")
    assert cron["spec"]["schedule"] == "0 3 * * *"
    hpa = stack.kube.get(f"/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers/ledger-api")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 5)
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "ledger-api"}
    pdb = stack.kube.get(f"/apis/policy/v1/namespaces/{namespace}/poddisruptionbudgets/ledger-api")
    assert pdb["spec"]["minAvailable"] == 1

    # The autoscaler owns replicas: they are not rendered, and a scale by it (here, by hand through
    # /scale as the autoscaler does) is not undone by drift repair.
    rendered = [yaml.safe_load(m) for m in (await stack.releases(name))[0].manifests]
    api = next(o for o in rendered if o["kind"] == "Deployment" and o["metadata"]["name"] == "ledger-api")
    assert "replicas" not in api["spec"]
    scaled = stack.kube.patch(f"/apis/apps/v1/namespaces/{namespace}/deployments/ledger-api/scale",
                              {"spec": {"replicas": 4}})
    assert scaled["spec"]["replicas"] == 4
    before = len(await stack.events(name))
    await asyncio.sleep(3 * DRIFT_SECONDS)  # three drift passes
    assert stack.kube.deployment(namespace, "ledger-api")["spec"]["replicas"] == 4
    assert not [e for e in (await stack.events(name))[before:] if e.reason == "DriftCorrected"]
    # ...while drift in what is rendered is still repaired.
    stack.kube.delete(f"/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers/ledger-api")
    await eventually(lambda: stack.kube.get(
        f"/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers/ledger-api"),
        what="the autoscaler to be restored")

    # A failing migration stops the release before the api rolls: the reason and the log tail say why.
    await stack.apply_application("ledger", hooked_app(MIGRATE_FAILS, "registry.example.com/ledger/api:2.0.0"))
    failed = await stack.deployment_when(name, lambda d: d.status.current_release == 2
                                         and condition(d, "Ready").reason == "HookFailed", "the hook to fail")
    message = condition(failed, "Ready").message
    assert "pre-deploy hook migrate" in message and "BackoffLimitExceeded" in message
    assert failed.status.rollout.reason == "BackoffLimitExceeded"
    assert "ERROR: relation users already exists" in message
    image = stack.kube.image(namespace, "ledger-api")
    assert image == "registry.example.com/ledger/api:1.0.0"
    assert any(e.reason == "HookFailed" for e in await stack.events(name))

    await stack.admin.deployment.delete_deployment(name=name)
    await stack.gone(name)
    assert stack.kube.items(f"/apis/batch/v1/namespaces/{namespace}/jobs") == []

