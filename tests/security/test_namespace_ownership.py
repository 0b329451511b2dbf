"""Namespace ownership across projects (issue 17 item 1), through the gateway as tenants use it:
one project's deployer cannot point a deployment at another project's namespace, templates
without ``{project}`` and system namespaces are refused with nothing stored, and two projects
whose names ran together (``sec-a`` + ``x-y``, ``sec-a-x`` + ``y``: both ``sec-a-x-y-dev``
before) each get and keep their own namespace, so deleting one leaves the other running."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.e2e.conftest import ControlPlane
from tests.security.conftest import Tenants, issue_token, write
from tests.security.test_tenancy import WORKLOAD, deploy
from threeport.delivery.v1alpha1 import deployment_pb2
from threeport.registry.v1alpha1 import environment_pb2
from threeport.sdk import Client, InvalidArgumentError, NotFoundError


def test_a_deployer_cannot_point_a_deployment_at_another_projects_namespace(
    control_plane: ControlPlane, tenants: Tenants, tmp_path: Path
) -> None:
    deploy(control_plane, tmp_path, "sec-b", "rates")
    taken = tenants.client("sec-b", "viewer").deployment.get_deployment(name="projects/sec-b/deployments/rates-dev")
    attacker = tenants.client("sec-a", "deployer")
    applied = control_plane.tptctl("apply", "-f", write(tmp_path, WORKLOAD.format(project="sec-a", app="rates")))
    assert applied.code == 0, applied.err
    for asked in (taken.status.namespace, "kube-system", "default", "threeport-system"):
        with pytest.raises(InvalidArgumentError) as refused:
            attacker.deployment.create_deployment(
                parent="projects/sec-a", deployment_id="rates-dev", deployment=deployment_pb2.Deployment(
                    spec=deployment_pb2.DeploymentSpec(application="rates", environment="dev", namespace=asked)))
        assert "deployment.spec.namespace" in str(refused.value) and "sec-a-" in refused.value.message, asked
        with pytest.raises(NotFoundError):
            attacker.deployment.get_deployment(name="projects/sec-a/deployments/rates-dev")
    # b's workload is untouched and still its own.
    after = tenants.client("sec-b", "viewer").deployment.get_deployment(name="projects/sec-b/deployments/rates-dev")
    assert after.status.namespace == taken.status.namespace and after.status.current_release == 1


@pytest.mark.parametrize("template", ["team-{application}-{environment}", "kube-system", "default",
                                      "kube-{project}"])
def test_namespace_templates_without_the_project_or_giving_system_namespaces_are_refused(
    tenants: Tenants, template: str
) -> None:
    admin = tenants.client("sec-a", "admin")
    with pytest.raises(InvalidArgumentError) as refused:
        admin.environment.create_environment(
            parent="projects/sec-a", environment_id="shared", environment=environment_pb2.Environment(
                spec=environment_pb2.EnvironmentSpec(type=environment_pb2.ENVIRONMENT_TYPE_STAGING,
                                                     namespace_template=template)))
    assert "namespace_template" in str(refused.value)
    with pytest.raises(NotFoundError):
        admin.environment.get_environment(name="projects/sec-a/environments/shared")


def ready_for(client: Client, name: str, within: float = 120.0) -> deployment_pb2.Deployment:
    deadline = time.monotonic() + within
    while True:
        found = client.deployment.get_deployment(name=name)
        ready = next((c for c in found.conditions if c.type == "Ready"), None)
        if ready is not None and ready.status == 1 and ready.observed_generation == found.generation:
            return found
        assert time.monotonic() < deadline, f"{name} not Ready: {list(found.conditions)}"
        time.sleep(0.5)


def test_projects_whose_names_run_together_never_share_a_namespace(
    control_plane: ControlPlane, tenants: Tenants, tmp_path: Path
) -> None:
    assert control_plane.tptctl("project", "create", "sec-a-x").code == 0
    other = tenants.connect(issue_token(control_plane, "sec-a-x-deployer", "sec-a-x", "deployer"))
    deploy(control_plane, tmp_path, "sec-a", "x-y")
    deploy(control_plane, tmp_path, "sec-a-x", "y")
    ours = ready_for(tenants.client("sec-a", "viewer"), "projects/sec-a/deployments/x-y-dev")
    theirs = ready_for(other, "projects/sec-a-x/deployments/y-dev")
    assert ours.status.namespace != theirs.status.namespace
    assert ours.status.namespace.startswith("sec-a-x-y-dev-") and theirs.status.namespace.startswith("sec-a-x-y-dev-")

    deleted = control_plane.tptctl("delete", "deployment", "x-y-dev", "-p", "sec-a", "--wait", "--timeout", "120s")
    assert deleted.code == 0, deleted.err
    # The other project's deployment keeps its namespace and stays Ready (a full drift pass later too).
    time.sleep(5)
    kept = ready_for(other, "projects/sec-a-x/deployments/y-dev", within=30)
    assert kept.status.namespace == theirs.status.namespace
    assert kept.status.rollout.ready_replicas >= 1
