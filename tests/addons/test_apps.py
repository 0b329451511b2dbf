"""Apps pull addons in (issue 12's first proof): the first app that declares an `ingress`
installs the ingress controller and cert-manager once, and its Ingress has the host and TLS;
a second app in the same cluster installs nothing new; with both gone the addons are removed
after the grace period. Registry, cluster-manager, addon-manager and workload-delivery run
together against one emulated cluster."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from google.protobuf import field_mask_pb2, json_format

from tests.addons.charts import echo_addon
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
from threeport.addons.v1alpha1 import addon_pb2
from threeport.registry.v1alpha1 import service_class_pb2
from threeport.sdk import AsyncClient, InvalidArgumentError
from threeport_addon_manager.service import DEFINITION as ADDONS
from threeport_registry.service import DEFINITION as REGISTRY
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
    _first_registry, clusters, kube, cluster, settings, opened = world
    # This test is about removal after the grace period: the addon-manager starts with a short one.
    monkeypatch.setenv("THREEPORT_ADDONS_UNINSTALL_GRACE", "3s")
    monkeypatch.setenv("THREEPORT_BACKEND_CLUSTERS", f"127.0.0.1:{clusters.port}")
    monkeypatch.delenv("THREEPORT_BACKEND_REGISTRY", raising=False)  # no AddonProfiles in these tests
    await asyncio.to_thread(upgrade, ADDONS.migrations_dir, database_url)
    addons = await start_test_service(
        ADDONS, make_settings("addon_manager", database_url, settings.stream_prefix), FAST
    )
    # A second registry replica that knows the addon-manager (the first started before it), so
    # that it learns the catalog's types; delivery and the tests use this one.
    monkeypatch.setenv("THREEPORT_BACKEND_ADDONS", f"127.0.0.1:{addons.port}")
    registry = await start_test_service(REGISTRY, make_settings("registry", database_url, settings.stream_prefix), FAST)
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
        await registry.stop(grace=1.0)
        await addons.stop(grace=1.0)


async def deploy_ledger(stack: Stack, app: dict[str, Any], *, within: float = 120) -> str:
    """Applies and deploys ``ledger`` to dev; its namespace once the deployment is Ready."""
    await stack.apply_application("ledger", app)
    await stack.admin.deployment.deploy(parent=PARENT, application="ledger", environment="dev")
    ledger = await stack.ready(f"{PARENT}/deployments/ledger-dev", within=within)
    return str(ledger.status.namespace)


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


async def test_an_app_declaring_a_custom_type_gets_the_addons_outputs(
    apps: tuple[Stack, AsyncClient], chart_repository: tuple[str, dict[str, str]]
) -> None:
    stack, addons = apps
    url, digests = chart_repository
    manifest = echo_addon(url, "1.0.0", digests["1.0.0"])
    addon = json_format.ParseDict({"spec": manifest["spec"]}, addon_pb2.Addon(name="addons/echo"))
    await addons.addon.update_addon(addon=addon, allow_missing=True)
    app = {
        "components": {
            "api": {
                "image": "registry.example.com/ledger/api:1.0.0",
                "env": {"BROKERS": "${dependencies.stream.bootstrap}"},
            }
        },
        "dependencies": {"stream": {"type": "kafka"}},
    }

    async def accepted() -> bool:
        try:
            await stack.apply_application("ledger", app)
        except InvalidArgumentError:
            return False  # until the registry has learned the type from the addon-manager
        return True

    await wait_until(accepted, within=45, interval=0.3, what="the registry to accept the kafka type")
    await stack.admin.deployment.deploy(parent=PARENT, application="ledger", environment="dev")
    ledger = await stack.ready(f"{PARENT}/deployments/ledger-dev", within=90)
    config = stack.kube.get(f"/api/v1/namespaces/{ledger.status.namespace}/configmaps/ledger-api-env")
    cid = stack.cluster.rsplit("/", 1)[-1]
    assert config["data"]["BROKERS"] == f"echo-{cid}-echo.echo:9092"
    assert await installations(addons) == ["echo"]


async def test_an_app_declaring_metrics_gets_a_service_monitor_once_prometheus_is_installed(
    apps: tuple[Stack, AsyncClient],
) -> None:
    stack, addons = apps
    app = {
        "components": {
            "api": {
                "image": "registry.example.com/ledger/api:1.0.0",
                "ports": [{"name": "http", "port": 8080}, {"name": "metrics", "port": 9090}],
            },
            "worker": {"image": "registry.example.com/ledger/worker:1.0.0"},
        },
        "dependencies": {"metrics": {"type": "metrics"}},
    }
    namespace = await deploy_ledger(stack, app, within=90)
    assert await installations(addons) == ["prometheus"]
    monitors = stack.kube.get(f"/apis/monitoring.coreos.com/v1/namespaces/{namespace}/servicemonitors")
    assert [m["metadata"]["name"] for m in monitors["items"]] == ["ledger-api"]  # only the component with metrics
    [endpoint] = monitors["items"][0]["spec"]["endpoints"]
    assert endpoint == {"port": "metrics", "path": "/metrics"}

    await stack.admin.deployment.delete_deployment(name=f"{PARENT}/deployments/ledger-dev")

    async def pruned() -> bool:
        found = stack.kube.get(f"/apis/monitoring.coreos.com/v1/namespaces/{namespace}/servicemonitors")
        return found is None or not found["items"]

    await wait_until(pruned, within=60, interval=0.3, what="the ServiceMonitor to be deleted with the deployment")


async def test_an_ingress_without_a_host_gets_one_from_the_environments_domain(
    apps: tuple[Stack, AsyncClient],
) -> None:
    stack, _addons = apps
    dev = await stack.registry_admin.environment.get_environment(name=f"{PARENT}/environments/dev")
    dev.spec.domain = "dev.example.com"
    await stack.registry_admin.environment.update_environment(
        environment=dev, update_mask=field_mask_pb2.FieldMask(paths=["spec.domain"]))
    app = web_app("")
    del app["dependencies"]["web"]["params"]["host"]
    await stack.apply_application("shop", app)
    await stack.admin.deployment.deploy(parent=PARENT, application="shop", environment="dev")
    shop = await stack.ready(f"{PARENT}/deployments/shop-dev", within=90)
    namespace = shop.status.namespace
    ingress = stack.kube.get(f"/apis/networking.k8s.io/v1/namespaces/{namespace}/ingresses/shop-web")
    assert ingress["spec"]["rules"][0]["host"] == "shop-dev.dev.example.com"
    assert ingress["spec"]["tls"] == [{"hosts": ["shop-dev.dev.example.com"], "secretName": "shop-web-tls"}]
    config = stack.kube.get(f"/api/v1/namespaces/{namespace}/configmaps/shop-api-env")
    assert config["data"]["PUBLIC_URL"] == "https://shop-dev.dev.example.com"


async def test_an_app_declaring_logging_gets_its_pods_collected_by_the_agent(
    apps: tuple[Stack, AsyncClient],
) -> None:
    stack, addons = apps
    app = {
        "components": {"api": {"image": "registry.example.com/ledger/api:1.0.0",
                               "env": {"LOKI": "${dependencies.logs.endpoint}"}}},
        "dependencies": {"logs": {"type": "logging"}},
    }
    namespace = await deploy_ledger(stack, app)
    assert await installations(addons) == ["fluent-bit", "loki"]
    api = stack.kube.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/ledger-api")
    assert api["spec"]["template"]["metadata"]["labels"]["threeport.io/logs"] == "collect"
    config = stack.kube.get(f"/api/v1/namespaces/{namespace}/configmaps/ledger-api-env")
    assert config["data"]["LOKI"] == "http://loki.logging.svc:3100"
    # The agent keeps only the records of pods with that label.
    agent = stack.kube.get("/api/v1/namespaces/logging/configmaps/fluent-bit")
    assert "Regex $kubernetes['labels']['threeport.io/logs'] ^collect$" in agent["data"]["fluent-bit.conf"]


async def test_a_secret_synced_by_external_secrets_becomes_an_external_secret_the_app_reads(
    apps: tuple[Stack, AsyncClient],
) -> None:
    stack, addons = apps
    operator = client(stack.registry.port, OPERATOR, stack.opened)
    synced = service_class_pb2.ServiceClass(spec=service_class_pb2.ServiceClassSpec(
        type="secret", implementation="external-secrets",
        scope=service_class_pb2.ServiceClassScope(environment=f"{PARENT}/environments/dev"), **{"class": "*"}))
    await operator.service_class.create_service_class(service_class_id=f"synced-{uuid.uuid4().hex[:6]}",
                                                      service_class=synced)
    app = {
        "components": {"api": {"image": "registry.example.com/ledger/api:1.0.0",
                               "env": {"STRIPE_KEY": "${dependencies.stripe.api-key}"}}},
        "dependencies": {"stripe": {"type": "secret", "params": {"keys": ["api-key"], "name": "ledger/dev/stripe"}}},
    }
    namespace = await deploy_ledger(stack, app)
    assert await installations(addons) == ["external-secrets"]
    external = stack.kube.get(f"/apis/external-secrets.io/v1beta1/namespaces/{namespace}/externalsecrets/ledger-stripe")
    assert external["spec"]["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "aws-secrets-manager"}
    assert external["spec"]["data"] == [
        {"secretKey": "api-key", "remoteRef": {"key": "ledger/dev/stripe", "property": "api-key"}}]
    api = stack.kube.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/ledger-api")
    [container] = api["spec"]["template"]["spec"]["containers"]
    assert container["env"] == [
        {"name": "STRIPE_KEY", "valueFrom": {"secretKeyRef": {"name": "ledger-stripe", "key": "api-key"}}}]


def addon_nodes(node: Any) -> list[str]:
    found = [node.message] if node.kind == "addon" else []
    for child in node.children:
        found += addon_nodes(child)
    return found


async def test_plan_shows_which_addons_an_ingress_would_pull_in(apps: tuple[Stack, AsyncClient]) -> None:
    stack, addons = apps
    plain = {
        "components": {
            "api": {"image": "registry.example.com/shop/api:1.0.0", "ports": [{"name": "http", "port": 8080}]}
        }
    }
    # Not deployed yet (no cluster chosen): the plan still names what the ingress pulls in.
    await stack.apply_application("shop", web_app("shop.example.com"))
    unplaced = await stack.admin.deployment.plan(parent=PARENT, application="shop", environment="dev")
    [message] = addon_nodes(unplaced.root)
    assert "would install ingress-nginx, cert-manager (unless the cluster it is placed on" in message, message

    await stack.apply_application("shop", plain)
    await stack.admin.deployment.deploy(parent=PARENT, application="shop", environment="dev")
    await stack.ready(f"{PARENT}/deployments/shop-dev", within=90)

    await stack.apply_application("shop", web_app("shop.example.com"))  # adds an ingress dependency
    planned = await stack.admin.deployment.plan(name=f"{PARENT}/deployments/shop-dev")
    [message] = addon_nodes(planned.root)
    # The reconciler may claim the new dependency before the plan reads it (then the node shows
    # the claim's state instead); until then the plan names what the claim would pull in.
    if message.startswith("would claim"):
        assert "would install ingress-nginx, cert-manager" in message, message

    async def pulled_in() -> bool:
        return await installations(addons) == ["cert-manager", "ingress-nginx"]

    # The plan said it: the reconciler then installs exactly those.
    await wait_until(pulled_in, within=90, interval=0.3, what="ingress-nginx and cert-manager to be installed")
