"""A deployment owns its namespace (issue 17 item 1): it never applies into, prunes from or
deletes a namespace that is not its own, whether the namespace was made by hand, belongs to
another project or is held by another deployment; and names that ran together
(``acme`` + ``x-rates``, ``acme-x`` + ``rates``) no longer meet."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from google.protobuf import json_format

from threeport.delivery.v1alpha1 import deployment_pb2
from threeport.registry.v1alpha1 import application_pb2, environment_pb2
from threeport.sdk import FailedPreconditionError, InvalidArgumentError, NotFoundError
from threeport_runtime.testing import wait_until

from .conftest import ENVIRONMENTS, PARENT, WITHIN, Kube, Stack, client, condition, identity
from .samples import RATES

OWNER = "threeport.io/owner"


def create(kube: Kube, path: str, body: dict[str, Any]) -> None:
    """What a person with kubectl create does."""
    request = urllib.request.Request(kube.info.server + path, method="POST", data=json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {kube.info.token}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10, context=kube.tls) as response:
        assert response.status == 201


def namespace(kube: Kube, name: str) -> Any:
    return kube.get(f"/api/v1/namespaces/{name}")


def config_map(kube: Kube, ns: str, name: str) -> Any:
    return kube.get(f"/api/v1/namespaces/{ns}/configmaps/{name}")


def deployment(application: str, environment: str, ns: str = "") -> deployment_pb2.Deployment:
    return deployment_pb2.Deployment(spec=deployment_pb2.DeploymentSpec(
        application=application, environment=environment, namespace=ns))


async def refused(stack: Stack, name: str) -> Any:
    return await stack.deployment_when(
        name, lambda d: (c := condition(d, "Applied")) is not None and c.reason == "NamespaceNotOwned",
        f"{name} to be refused its namespace")


async def test_a_namespace_made_by_someone_else_is_never_applied_to_nor_deleted(stack: Stack) -> None:
    create(stack.kube, "/api/v1/namespaces", {"metadata": {"name": "acme-by-hand"}})
    create(stack.kube, "/api/v1/namespaces/acme-by-hand/configmaps",
           {"metadata": {"name": "precious"}, "data": {"keep": "me"}})
    await stack.apply_application("rates", RATES)
    name = f"{PARENT}/deployments/rates-dev"
    await stack.admin.deployment.create_deployment(parent=PARENT, deployment_id="rates-dev",
                                                   deployment=deployment("rates", "dev", "acme-by-hand"))
    found = await refused(stack, name)
    assert "was not created by Threeport" in condition(found, "Applied").message
    assert condition(found, "Ready").status != 1
    assert any(e.reason == "NamespaceNotOwned" for e in await stack.events(name))
    assert stack.kube.deployment("acme-by-hand", "rates-svc") is None
    assert OWNER not in (namespace(stack.kube, "acme-by-hand")["metadata"].get("annotations") or {})

    await stack.admin.deployment.delete_deployment(name=name)
    await stack.gone(name)
    assert namespace(stack.kube, "acme-by-hand") is not None
    assert config_map(stack.kube, "acme-by-hand", "precious")["data"] == {"keep": "me"}


async def test_a_namespace_field_outside_the_project_or_a_system_one_is_refused_and_nothing_stored(
    stack: Stack
) -> None:
    await stack.apply_application("rates", RATES)
    for asked in ("b-rates-dev", "kube-system", "default", "threeport-system", "acme"):
        with pytest.raises(InvalidArgumentError) as caught:
            await stack.admin.deployment.create_deployment(parent=PARENT, deployment_id="rates-dev",
                                                           deployment=deployment("rates", "dev", asked))
        assert "deployment.spec.namespace" in str(caught.value) and "acme-" in str(caught.value), asked
        with pytest.raises(NotFoundError):
            await stack.admin.deployment.get_deployment(name=f"{PARENT}/deployments/rates-dev")


async def test_one_namespace_has_one_owner_and_the_record_refuses_the_second_at_once(stack: Stack) -> None:
    await stack.apply_application("rates", RATES)
    await stack.apply_application("other", RATES)
    first, second = f"{PARENT}/deployments/rates-dev", f"{PARENT}/deployments/other-dev"
    # Both are written before either is reconciled: the record decides, at reconcile.
    await stack.admin.deployment.create_deployment(parent=PARENT, deployment_id="rates-dev",
                                                   deployment=deployment("rates", "dev", "acme-shared"))
    await stack.admin.deployment.create_deployment(parent=PARENT, deployment_id="other-dev",
                                                   deployment=deployment("other", "dev", "acme-shared"))

    async def settled() -> Any:
        both = [await stack.admin.deployment.get_deployment(name=n) for n in (first, second)]
        ready = [d for d in both if condition(d, "Ready") is not None and condition(d, "Ready").status == 1]
        turned = [d for d in both if (c := condition(d, "Applied")) is not None and c.reason == "NamespaceNotOwned"]
        return (ready[0], turned[0]) if len(ready) == 1 and len(turned) == 1 else None

    owner, loser = await wait_until(settled, within=WITHIN, interval=0.2, what="one owner and one refusal")
    assert f"is used by {owner.name}" in condition(loser, "Applied").message
    annotations = namespace(stack.kube, "acme-shared")["metadata"]["annotations"]
    assert annotations[OWNER] == owner.name
    loser_app = loser.spec.application
    assert stack.kube.deployment("acme-shared", f"{loser_app}-svc") is None

    # Now the record shows it: a third asking for it is refused at the API, nothing written.
    await stack.apply_application("third", RATES)
    with pytest.raises(FailedPreconditionError, match="acme-shared"):
        await stack.admin.deployment.create_deployment(parent=PARENT, deployment_id="third-dev",
                                                       deployment=deployment("third", "dev", "acme-shared"))
    with pytest.raises(NotFoundError):
        await stack.admin.deployment.get_deployment(name=f"{PARENT}/deployments/third-dev")

    # Deleting the loser leaves the owner's namespace and workload alone.
    await stack.admin.deployment.delete_deployment(name=loser.name)
    await stack.gone(loser.name)
    assert stack.kube.deployment("acme-shared", f"{owner.spec.application}-svc") is not None
    assert namespace(stack.kube, "acme-shared") is not None


async def test_labels_alone_do_not_make_objects_the_deployments_to_prune_or_delete(stack: Stack) -> None:
    # What a takeover before the fix left behind: objects with acme's labels in another's namespace.
    labels = {"app.kubernetes.io/managed-by": "threeport", "threeport.io/project": "acme",
              "threeport.io/deployment": "rates-dev"}
    other = {"app.kubernetes.io/managed-by": "threeport", "threeport.io/project": "zeta",
             "threeport.io/deployment": "rates-dev"}
    create(stack.kube, "/api/v1/namespaces", {"metadata": {
        "name": "zeta-rates-dev", "labels": other, "annotations": {OWNER: "projects/zeta/deployments/rates-dev"}}})
    create(stack.kube, "/api/v1/namespaces/zeta-rates-dev/configmaps",
           {"metadata": {"name": "rates-svc", "labels": labels}, "data": {"owner": "zeta"}})
    # Of a kind the deployment renders: its passes look for that kind (deletion looks for every kind).
    create(stack.kube, "/api/v1/namespaces/zeta-rates-dev/services",
           {"metadata": {"name": "rates-svc", "labels": labels}, "spec": {"ports": [{"port": 80}]}})
    await stack.apply_application("rates", RATES)
    name = f"{PARENT}/deployments/rates-dev"
    await stack.deployer.deployment.deploy(parent=PARENT, application="rates", environment="dev")
    ready = await stack.ready(name)
    assert ready.status.namespace == "acme-rates-dev"
    assert namespace(stack.kube, "acme-rates-dev")["metadata"]["annotations"][OWNER] == name
    assert any(e.reason == "NotOwned" and "zeta-rates-dev" in e.message for e in await stack.events(name))
    assert config_map(stack.kube, "zeta-rates-dev", "rates-svc") is not None  # not pruned
    assert stack.kube.get("/api/v1/namespaces/zeta-rates-dev/services/rates-svc") is not None

    await stack.admin.deployment.delete_deployment(name=name)
    await stack.gone(name)
    assert namespace(stack.kube, "acme-rates-dev") is None or namespace(
        stack.kube, "acme-rates-dev")["metadata"].get("deletionTimestamp")
    assert namespace(stack.kube, "zeta-rates-dev") is not None
    assert config_map(stack.kube, "zeta-rates-dev", "rates-svc")["data"] == {"owner": "zeta"}
    assert stack.kube.get("/api/v1/namespaces/zeta-rates-dev/services/rates-svc") is not None


async def test_projects_whose_names_run_together_get_their_own_namespaces(stack: Stack) -> None:
    """``acme`` + ``x-rates`` and ``acme-x`` + ``rates`` both gave ``acme-x-rates-dev``."""
    other_parent = "projects/acme-x"
    other_admin = identity("principals/bob", f"admin@{other_parent}")
    registry_other = client(stack.registry.port, other_admin, stack.opened)
    delivery_other = client(stack.delivery.port, other_admin, stack.opened)
    await registry_other.environment.create_environment(
        parent=other_parent, environment_id="dev",
        environment=json_format.ParseDict({"spec": ENVIRONMENTS["dev"]}, environment_pb2.Environment()))
    await registry_other.application.create_application(
        parent=other_parent, application_id="rates",
        application=json_format.ParseDict({"spec": RATES}, application_pb2.Application()))
    await stack.apply_application("x-rates", RATES)

    await delivery_other.deployment.deploy(parent=other_parent, application="rates", environment="dev")
    await stack.admin.deployment.deploy(parent=PARENT, application="x-rates", environment="dev")
    theirs_name, ours_name = f"{other_parent}/deployments/rates-dev", f"{PARENT}/deployments/x-rates-dev"

    async def ready(client_: Any, name: str) -> Any:
        found = await client_.deployment.get_deployment(name=name)
        ok = condition(found, "Ready")
        return found if ok is not None and ok.status == 1 and ok.observed_generation == found.generation else None

    theirs = await wait_until(lambda: ready(delivery_other, theirs_name), within=WITHIN, interval=0.2,
                              what="acme-x's rates to be Ready")
    ours = await wait_until(lambda: ready(stack.admin, ours_name), within=WITHIN, interval=0.2,
                            what="acme's x-rates to be Ready")
    assert theirs.status.namespace != ours.status.namespace
    assert {theirs.status.namespace[:-9], ours.status.namespace[:-9]} == {"acme-x-rates-dev"}
    for found in (theirs, ours):
        assert namespace(stack.kube, found.status.namespace)["metadata"]["annotations"][OWNER] == found.name

    await stack.admin.deployment.delete_deployment(name=ours_name)
    await stack.gone(ours_name)
    assert namespace(stack.kube, theirs.status.namespace) is not None
    assert stack.kube.deployment(theirs.status.namespace, "rates-svc") is not None
    assert await ready(delivery_other, theirs_name) is not None



async def test_moving_to_another_namespace_releases_the_old_one_once_it_is_gone(stack: Stack) -> None:
    await stack.apply_application("rates", RATES)
    await stack.apply_application("other", RATES)
    name = f"{PARENT}/deployments/rates-dev"
    await stack.admin.deployment.create_deployment(parent=PARENT, deployment_id="rates-dev",
                                                   deployment=deployment("rates", "dev", "acme-first"))
    await stack.ready(name)
    moved = deployment("rates", "dev", "acme-second")
    moved.name = name
    updated = await stack.admin.deployment.update_deployment(deployment=moved)
    await stack.deployment_when(name, lambda d: d.status.namespace == "acme-second" and condition(d, "Ready").status
                                == 1 and condition(d, "Ready").observed_generation == updated.generation,
                                "the move to be Ready")
    assert stack.kube.deployment("acme-second", "rates-svc") is not None

    async def first_gone() -> bool:
        return namespace(stack.kube, "acme-first") is None

    await wait_until(first_gone, within=WITHIN, interval=0.2, what="the old namespace to be pruned")
    # Its record goes with it: another deployment may have the name now.

    async def taken() -> Any:
        try:
            return await stack.admin.deployment.create_deployment(
                parent=PARENT, deployment_id="other-dev", deployment=deployment("other", "dev", "acme-first"))
        except FailedPreconditionError:
            return None

    await wait_until(taken, within=WITHIN, interval=0.5, what="the old namespace's record to be released")
    await stack.ready(f"{PARENT}/deployments/other-dev")
