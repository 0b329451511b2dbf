"""Apps pull addons in (issue 12's first proof): the first app that declares an `ingress`
installs the ingress controller and cert-manager once, and its Ingress has the host and TLS;
a second app in the same cluster installs nothing new; with both gone the addons are removed
after the grace period. Registry, cluster-manager, addon-manager and workload-delivery run
together against one emulated cluster."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.delivery.conftest import (  # noqa: F401 - fixtures
    ADMIN,
    FAST,
    OPERATOR,
    PARENT,
    PROJECT,
    Stack,
    client,
    delivery_env,
    world,
)
from threeport.sdk import AsyncClient
from threeport_addon_manager.service import DEFINITION as ADDONS
from threeport_runtime.db.migrations import upgrade
from threeport_runtime.testing import make_settings, start_test_service, wait_until
from threeport_workload_delivery.service import DEFINITION as DELIVERY


def web_app(host: str) -> dict[str, Any]:
    return {
        "components": {
            "api": {
                "image": "registry.example.com/shop/api:1.0.0",
                "ports": [{"name": "http", "port": 8080}],
                "env": {"PUBLIC_URL": "${dependencies.web.url}"},
            }
        },
        "dependencies": {
            "web": {"type": "ingress", "params": {"component": "api", "port": "http", "host": host, "tls": True}}
        },
    }


@pytest.fixture
async def apps(
    world: Any,  # noqa: F811 - the fixture
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[Stack, AsyncClient]]:
    registry, clusters, kube, cluster, settings, opened = world
    # This test is about removal after the grace period: the addon-manager starts with a short one.
    monkeypatch.setenv("THREEPORT_ADDONS_UNINSTALL_GRACE", "3s")
    monkeypatch.setenv("THREEPORT_BACKEND_CLUSTERS", f"127.0.0.1:{clusters.port}")
    monkeypatch.setenv("THREEPORT_BACKEND_REGISTRY", f"127.0.0.1:{registry.port}")
    await asyncio.to_thread(upgrade, ADDONS.migrations_dir, database_url)
    addons = await start_test_service(
        ADDONS, make_settings("addon_manager", database_url, settings.stream_prefix), FAST
    )
    delivery_env(monkeypatch, registry.port, clusters.port)
    monkeypatch.setenv("THREEPORT_BACKEND_ADDONS", f"127.0.0.1:{addons.port}")
    delivery = await start_test_service(DELIVERY, settings, FAST)
    try:
        stack = Stack(
            delivery=delivery,
            registry=registry,
            clusters=clusters,
            kube=kube,
            cluster=cluster,
            settings=settings,
            admin=client(delivery.port, ADMIN, opened),
            deployer=client(delivery.port, ADMIN, opened),
            registry_admin=client(registry.port, ADMIN, opened),
            registry_deployer=client(registry.port, ADMIN, opened),
            clusters_operator=client(clusters.port, OPERATOR, opened),
            clusters_service=client(clusters.port, OPERATOR, opened),
            opened=opened,
        )
        yield stack, client(addons.port, OPERATOR, opened)
    finally:
        await delivery.stop(grace=1.0)
        await addons.stop(grace=1.0)


async def installations(addons: AsyncClient) -> list[str]:
    page = await addons.addon_installation.list_addon_installations_page(page_size=100, hide_deleting=True)
    return sorted(i.spec.addon.removeprefix("addons/") for i in page.addon_installations)


async def test_apps_pull_in_the_ingress_controller_and_cert_manager_once(
    apps: tuple[Stack, AsyncClient],
) -> None:
    stack, addons = apps
    await stack.apply_application("shop", web_app("shop.example.com"))
    await stack.admin.deployment.deploy(parent=PARENT, application="shop", environment="dev")
    shop = await stack.ready(f"{PARENT}/deployments/shop-dev", within=90)
    assert await installations(addons) == ["cert-manager", "ingress-nginx"]
    namespace = shop.status.namespace
    ingress = stack.kube.get(f"/apis/networking.k8s.io/v1/namespaces/{namespace}/ingresses/shop-web")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["rules"][0]["host"] == "shop.example.com"
    assert ingress["spec"]["tls"] == [{"hosts": ["shop.example.com"], "secretName": "shop-web-tls"}]
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt-production"
    # The app receives the claim's url output through its env (the plain env ConfigMap).
    config = stack.kube.get(f"/api/v1/namespaces/{namespace}/configmaps/shop-api-env")
    assert config["data"]["PUBLIC_URL"] == "https://shop.example.com"

    await stack.apply_application("rates", web_app("rates.example.com"))
    await stack.admin.deployment.deploy(parent=PARENT, application="rates", environment="dev")
    await stack.ready(f"{PARENT}/deployments/rates-dev", within=90)
    assert await installations(addons) == ["cert-manager", "ingress-nginx"]  # nothing new

    for app in ("shop", "rates"):
        await stack.admin.deployment.delete_deployment(name=f"{PARENT}/deployments/{app}-dev")
    controller = "/apis/apps/v1/namespaces/ingress-nginx/deployments/ingress-nginx-controller"
    assert stack.kube.get(controller) is not None  # within the grace period

    async def removed() -> bool:
        return stack.kube.get(controller) is None and not await installations(addons)

    await wait_until(removed, within=90, interval=0.3, what="the addons to be removed after the grace period")
