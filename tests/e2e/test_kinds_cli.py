"""Component kinds as a user drives them: tptctl → gateway → services → the local sim cluster of
`tptctl up`. A manifests app with a CRD and a custom resource, and a Helm chart app from a chart
repository this test serves, deploy, update, roll back and delete; a chart that does not render
is refused at apply (exit 5); a failing pre-deploy job stops the release with its log; an
autoscaler is rendered."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.addons.charts import chart_repository  # noqa: F401 - fixture
from tests.delivery.conftest import Kube
from tests.e2e.conftest import ControlPlane, eventually, namespace_of
from tests.support import REPO_ROOT
from threeport_cli.local.statedir import StateDir
from threeport_kubesim.control import ControlClient

EXAMPLES = REPO_ROOT / "deploy" / "examples" / "delivery"
pytestmark = pytest.mark.timeout(600)

WIDGETS = """\
apiVersion: threeport.io/v1alpha1
kind: Environment
metadata: {name: kinds}
spec: {type: staging, allowClusterScoped: true}
---
apiVersion: threeport.io/v1alpha1
kind: Application
metadata: {name: kinds-widgets}
spec:
  components:
    types:
      kind: manifests
      manifests:
        - apiVersion: apiextensions.k8s.io/v1
          kind: CustomResourceDefinition
          metadata: {name: gizmos.e2e.example.com}
          spec:
            group: e2e.example.com
            scope: Namespaced
            names: {kind: Gizmo, plural: gizmos, singular: gizmo}
            versions: [{name: v1, served: true, storage: true,
                        schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}]
        - {apiVersion: e2e.example.com/v1, kind: Gizmo, metadata: {name: gear}, spec: {teeth: TEETH}}
"""
ECHO = """\
apiVersion: threeport.io/v1alpha1
kind: Application
metadata: {name: kinds-echo}
spec:
  components:
    web:
      kind: helm
      helm: {repository: URL, chart: echo, version: VERSION, values: {replicas: 2, message: MESSAGE}}
"""
LEDGER = """\
apiVersion: threeport.io/v1alpha1
kind: Application
metadata: {name: kinds-ledger}
spec:
  components:
    api:
      image: registry.example.com/ledger/api:API
      autoscaling: {min: 2, max: 6}
      disruptionBudget: {maxUnavailable: "50%"}
    migrate:
      kind: job
      image: registry.example.com/ledger/api:API
      command: [sh, -c, "echo applying migrations; SCRIPT"]
  hooks: {preDeploy: [migrate]}
"""


def cluster(control_plane: ControlPlane) -> Kube:
    kubesim = StateDir(control_plane.state_dir).load().find("kubesim")
    assert kubesim is not None
    with control_plane.client() as client:
        emulated = client.cluster.get_cluster(name="clusters/local").status.infrastructure.removeprefix("sim/")
    return Kube(ControlClient(kubesim.url).get_cluster(emulated))


def settled(control_plane: ControlPlane, deployment: str, release: int) -> None:
    """Waits until ``release`` runs and is Ready (actions read-modify-write the deployment, so they
    are given a deployment whose status is not changing)."""
    def ready() -> bool:
        with control_plane.client() as client:
            found = client.deployment.get_deployment(name=f"projects/acme/deployments/{deployment}")
        return found.status.current_release == release and any(
            c.type == "Ready" and c.status == 1 and c.observed_generation == found.generation for c in found.conditions)

    eventually(ready, f"release {release} of {deployment} to be ready")


def write(tmp_path: Path, name: str, text: str, **values: str) -> str:
    for key, value in values.items():
        text = text.replace(key, value)
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_manifests_and_helm_apps_through_tptctl(
    control_plane: ControlPlane, tmp_path: Path, chart_repository: tuple[str, dict[str, str]],  # noqa: F811
) -> None:
    cp, kube = control_plane, cluster(control_plane)
    assert cp.tptctl("apply", "-f", str(EXAMPLES / "environments.yaml")).code == 0

    # Manifests with a CRD and a custom resource, in an environment that allows cluster-scoped objects.
    applied = cp.tptctl("apply", "-f", write(tmp_path, "w1.yaml", WIDGETS, TEETH="12"))
    assert applied.code == 0, applied.err
    deployed = cp.tptctl("deploy", "kinds-widgets", "--env", "kinds", "--wait", "--timeout", "120s")
    assert deployed.code == 0, deployed.err
    gear = f"/apis/e2e.example.com/v1/namespaces/{namespace_of(cp, 'kinds-widgets-kinds')}/gizmos/gear"
    assert kube.get(gear)["spec"] == {"teeth": 12}
    assert cp.tptctl("apply", "-f", write(tmp_path, "w2.yaml", WIDGETS, TEETH="20")).code == 0
    eventually(lambda: (kube.get(gear) or {}).get("spec") == {"teeth": 20}, "the update to reach the cluster")
    settled(cp, "kinds-widgets-kinds", 2)
    rolled = cp.tptctl("rollback", "kinds-widgets", "--env", "kinds", "--to-release", "1", "--wait",
                       "--timeout", "120s")
    assert rolled.code == 0, rolled.err
    assert kube.get(gear)["spec"] == {"teeth": 12}
    plan = cp.tptctl("plan", "kinds-widgets", "--env", "kinds")
    assert plan.code == 0 and "unchanged" in plan.out and "Gizmo" in plan.out
    deleted = cp.tptctl("delete", "deployment", "kinds-widgets-kinds", "--wait", "--timeout", "120s")
    assert deleted.code == 0, deleted.err
    assert kube.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gizmos.e2e.example.com") is None

    # A Helm chart from the repository this test serves.
    url, _ = chart_repository
    applied = cp.tptctl("apply", "-f", write(tmp_path, "e1.yaml", ECHO, URL=url, VERSION="1.0.0", MESSAGE="one"))
    assert applied.code == 0, applied.err
    deployed = cp.tptctl("deploy", "kinds-echo", "--env", "dev", "--wait", "--timeout", "120s")
    assert deployed.code == 0, deployed.err
    echo = f"/apis/apps/v1/namespaces/{namespace_of(cp, 'kinds-echo-dev')}/deployments/kinds-echo-web-echo"

    def message() -> str:
        found = kube.get(echo)
        return "" if found is None else str(found["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"])

    assert message() == "one" and kube.get(echo)["spec"]["replicas"] == 2
    assert cp.tptctl("apply", "-f", write(tmp_path, "e2.yaml", ECHO, URL=url, VERSION="1.1.0",
                                          MESSAGE="two")).code == 0
    eventually(lambda: message() == "two", "the chart update to reach the cluster")
    settled(cp, "kinds-echo-dev", 2)
    rolled = cp.tptctl("rollback", "kinds-echo", "--env", "dev", "--to-release", "1", "--wait", "--timeout", "120s")
    assert rolled.code == 0, rolled.err
    assert message() == "one"
    refused = cp.tptctl("apply", "-f", write(tmp_path, "e3.yaml", ECHO, URL=url, VERSION="2.0.0", MESSAGE="x"))
    assert refused.code == 5 and "spec.components[web].helm" in refused.err, refused.err
    deleted = cp.tptctl("delete", "deployment", "kinds-echo-dev", "--wait", "--timeout", "120s")
    assert deleted.code == 0, deleted.err
    assert kube.get(echo) is None
    assert cp.tptctl("delete", "application", "kinds-echo").code == 0
    assert cp.tptctl("delete", "application", "kinds-widgets").code == 0


def test_a_failing_pre_deploy_job_stops_the_release_through_tptctl(control_plane: ControlPlane, tmp_path: Path) -> None:
    cp, kube = control_plane, cluster(control_plane)
    assert cp.tptctl("apply", "-f", str(EXAMPLES / "environments.yaml")).code == 0
    applied = cp.tptctl("apply", "-f", write(tmp_path, "l1.yaml", LEDGER, API="1.0.0", SCRIPT="echo done"))
    assert applied.code == 0, applied.err
    deployed = cp.tptctl("deploy", "kinds-ledger", "--env", "dev", "--wait", "--timeout", "120s")
    assert deployed.code == 0, deployed.err
    namespace = namespace_of(cp, "kinds-ledger-dev")
    hpa = kube.get(f"/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers/kinds-ledger-api")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    assert kube.get(f"/apis/policy/v1/namespaces/{namespace}/poddisruptionbudgets/kinds-ledger-api")

    failing = write(tmp_path, "l2.yaml", LEDGER, API="2.0.0",
                    SCRIPT="echo 'ERROR: column total cannot be cast'; exit 3")
    assert cp.tptctl("apply", "-f", failing).code == 0
    def hook_failed() -> str | None:
        shown = cp.tptctl("describe", "deployment", "kinds-ledger-dev").out
        return shown if "HookFailed" in shown else None

    described = eventually(hook_failed, "the hook to fail")
    assert "pre-deploy hook migrate" in described and "cannot be cast" in described
    api = kube.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/kinds-ledger-api")
    assert api["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example.com/ledger/api:1.0.0"
    assert "HookFailed" in cp.tptctl("events", "deployment", "kinds-ledger-dev").out

    deleted = cp.tptctl("delete", "deployment", "kinds-ledger-dev", "--wait", "--timeout", "120s")
    assert deleted.code == 0, deleted.err
    assert cp.tptctl("delete", "application", "kinds-ledger").code == 0
