"""A Deployment's own overrides: refused for a component the application does not have (nothing
stored), applied over the application for that deployment (replicas, env), and undone by
removing them."""

from __future__ import annotations

import pytest
from google.protobuf import field_mask_pb2

from threeport.delivery.v1alpha1 import deployment_pb2
from threeport.registry.v1alpha1 import environment_pb2
from threeport.sdk import InvalidArgumentError, NotFoundError
from threeport_runtime.testing import wait_until

from .conftest import PARENT, PROJECT, Stack, condition
from .samples import SHOP

NS = f"{PROJECT}-solo-dev"
SOLO = {"components": {"api": {**SHOP["components"]["api"], "env": {"LOG_LEVEL": "info"}}}}


async def test_deployment_overrides(stack: Stack) -> None:
    await stack.apply_application("solo", SOLO)
    wrong = deployment_pb2.Deployment(spec=deployment_pb2.DeploymentSpec(
        application="solo", environment="dev",
        overrides=[environment_pb2.ComponentOverride(component="web", replicas=2)]))
    with pytest.raises(InvalidArgumentError) as refused:
        await stack.admin.deployment.create_deployment(parent=PARENT, deployment_id="solo-dev", deployment=wrong)
    assert [v.field for v in refused.value.field_violations] == ["deployment.spec.overrides[0].component"]
    with pytest.raises(NotFoundError):
        await stack.admin.deployment.get_deployment(name=f"{PARENT}/deployments/solo-dev")

    wanted = deployment_pb2.Deployment(spec=deployment_pb2.DeploymentSpec(
        application="solo", environment="dev",
        overrides=[environment_pb2.ComponentOverride(component="api", replicas=3, env={"LOG_LEVEL": "debug"})]))
    created = await stack.admin.deployment.create_deployment(parent=PARENT, deployment_id="solo-dev",
                                                             deployment=wanted)
    await stack.deployment_when(created.name, lambda d: condition(d, "Ready") is not None
                                and condition(d, "Ready").status == 1, "the deployment to be ready")
    assert stack.kube.deployment(NS, "solo-api")["spec"]["replicas"] == 3  # the application says 2
    assert stack.kube.get(f"/api/v1/namespaces/{NS}/configmaps/solo-api-env")["data"]["LOG_LEVEL"] == "debug"
    plan = await stack.admin.deployment.plan(name=created.name)
    assert ("api", "replicas", "3", "deployment/solo-dev") in {
        (m.component, m.field, m.value, m.source) for m in plan.merged}

    live = await stack.admin.deployment.get_deployment(name=created.name)
    del live.spec.overrides[:]
    await stack.admin.deployment.update_deployment(
        deployment=live, update_mask=field_mask_pb2.FieldMask(paths=["spec.overrides"]))
    await stack.deployment_when(created.name, lambda d: d.status.current_release >= 2, "release 2")

    async def back() -> bool:
        found = stack.kube.deployment(NS, "solo-api")
        return bool(found) and found["spec"]["replicas"] == 2
    await wait_until(back, within=60, what="the override to be undone")
