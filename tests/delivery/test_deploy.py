"""Deploying: a two-component app with an app-to-app dependency reaches Ready with the right
objects in the cluster; spec edits make releases and prune; deletion leaves nothing behind."""

from __future__ import annotations

from threeport.delivery.v1alpha1 import release_pb2
from threeport.sdk import NotFoundError
from threeport_runtime.testing import wait_until

from .conftest import PARENT, PROJECT, WITHIN, Stack, condition
from .samples import RATES, SHOP

NS = f"{PROJECT}-shop-dev"


async def deploy_shop(stack: Stack) -> None:
    await stack.apply_application("rates", RATES)
    await stack.apply_application("shop", SHOP)
    await stack.admin.deployment.deploy(parent=PARENT, application="rates", environment="dev")
    await stack.admin.deployment.deploy(parent=PARENT, application="shop", environment="dev")


async def test_deploy_app_with_app_dependency(stack: Stack) -> None:
    await deploy_shop(stack)
    shop = await stack.ready(f"{PARENT}/deployments/shop-dev")
    for kind in ("Placed", "DependenciesReady", "Applied", "Available", "Ready"):
        assert condition(shop, kind).status == 1, kind
    assert shop.status.cluster == stack.cluster
    assert shop.status.namespace == NS
    assert shop.status.current_release == 1
    assert [d.name for d in shop.status.dependencies] == ["rates"]
    assert shop.status.outputs["api.url"] == f"http://shop-api.{NS}.svc.cluster.local:8080"

    kube = stack.kube
    api = kube.deployment(NS, "shop-api")
    assert api is not None
    container = api["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example.com/shop/api:1.0.0"
    assert api["spec"]["replicas"] == 2
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["livenessProbe"]["tcpSocket"] == {"port": "http"}
    assert container["resources"] == {"requests": {"cpu": "200m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}}
    labels = api["metadata"]["labels"]
    assert labels["app.kubernetes.io/managed-by"] == "threeport"
    assert labels["threeport.io/project"] == PROJECT
    assert labels["threeport.io/deployment"] == "shop-dev"
    config = kube.get(f"/api/v1/namespaces/{NS}/configmaps/shop-api-env")
    assert config["data"] == {"LOG_LEVEL": "info",
                              "RATES_URL": f"http://rates-svc.{PROJECT}-rates-dev.svc.cluster.local:8080"}
    assert kube.deployment(NS, "shop-worker") is not None
    assert kube.get(f"/api/v1/namespaces/{NS}/services/shop-api")["spec"]["ports"][0]["port"] == 8080
    assert kube.get(f"/api/v1/namespaces/{NS}/serviceaccounts/shop-worker") is not None

    releases = await stack.releases(shop.name)
    assert [(r.number, r.reason) for r in releases] == [(1, release_pb2.RELEASE_REASON_INITIAL)]
    assert releases[0].images["api"].image == "registry.example.com/shop/api:1.0.0"
    reasons = {e.reason for e in await stack.events(shop.name)}
    assert {"Placed", "ReleaseCreated", "RolloutStarted", "RolloutComplete"} <= reasons


async def test_spec_edit_releases_and_prunes(stack: Stack) -> None:
    await deploy_shop(stack)
    name = f"{PARENT}/deployments/shop-dev"
    await stack.ready(name)
    edited = {**SHOP, "components": {"api": {**SHOP["components"]["api"], "env": {"LOG_LEVEL": "debug"}}}}
    edited["dependencies"] = {}
    app = await stack.apply_application("shop", edited)
    await stack.deployment_when(name, lambda d: d.status.current_release == 2 and condition(d, "Ready").status == 1,
                                "release 2 to be rolled out")
    releases = await stack.releases(name)
    assert [(r.number, r.reason) for r in releases][-1] == (2, release_pb2.RELEASE_REASON_SPEC_CHANGE)
    assert releases[-1].application_generation == app.generation
    assert stack.kube.get(f"/api/v1/namespaces/{NS}/configmaps/shop-api-env")["data"] == {"LOG_LEVEL": "debug"}

    async def worker_gone() -> bool:
        return stack.kube.deployment(NS, "shop-worker") is None and \
            stack.kube.get(f"/api/v1/namespaces/{NS}/serviceaccounts/shop-worker") is None

    await wait_until(worker_gone, within=WITHIN, what="the removed component to be pruned")
    assert "Pruned" in {e.reason for e in await stack.events(name)}


async def test_delete_removes_everything_and_releases_claims(stack: Stack) -> None:
    await deploy_shop(stack)
    name = f"{PARENT}/deployments/shop-dev"
    shop = await stack.ready(name)
    claim_id = None
    async for claim in stack.clusters_service.internal.cluster_claim.list_cluster_claims():
        if claim.spec.owner == name:
            claim_id = claim.name
    assert claim_id is not None
    assert stack.kube.owned("shop-dev")
    await stack.admin.deployment.delete_deployment(name=name)

    await stack.gone(name)
    assert stack.kube.owned("shop-dev") == []
    try:
        await stack.clusters_service.internal.cluster_claim.get_cluster_claim(name=claim_id)
        raise AssertionError("the cluster claim should be released")
    except NotFoundError:
        pass
    assert shop.uid
    # The rates deployment, which is not deleted, keeps running.
    assert stack.kube.deployment(f"{PROJECT}-rates-dev", "rates-svc") is not None
