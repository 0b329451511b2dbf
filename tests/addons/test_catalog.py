"""The catalog: charts from an HTTP repository the test serves (templates, helpers, values and
a dependency), pinned by version and digest; failures that change nothing; upgrades that roll;
custom types; and the built-in catalog's objects against the Kubernetes schemas."""

from __future__ import annotations

import asyncio
from typing import Any

import kubernetes_validate
import pytest
from google.protobuf import json_format

from tests.addons.charts import DEPLOYMENT, echo_addon
from tests.addons.conftest import FAST, WITHIN, Stack
from tests.delivery.conftest import ADMIN, client, condition, is_ready
from threeport.addons.v1alpha1 import addon_installation_pb2
from threeport.registry.v1alpha1 import application_pb2
from threeport.sdk import AlreadyExistsError, InvalidArgumentError
from threeport_addon_manager.catalog.seeding import builtin_addons
from threeport_addon_manager.domain.catalog import version_of
from threeport_addon_manager.installers.charts import ChartCache
from threeport_addon_manager.installers.render import render
from threeport_kubesim.testing import EmulatorHandle
from threeport_registry.service import DEFINITION as REGISTRY
from threeport_runtime.db.migrations import upgrade
from threeport_runtime.testing import make_settings, start_test_service, wait_until


async def test_a_chart_from_a_repository_renders_applies_and_upgrades(
    stack: Stack, chart_repository: tuple[str, dict[str, str]]
) -> None:
    url, digests = chart_repository
    cid = stack.cluster.rsplit("/", 1)[-1]
    await stack.apply_addon(echo_addon(url, "1.0.0", digests["1.0.0"]))
    claim = await stack.claim("stream", "kafka", "projects/acme/deployments/ledger-prod")
    bound = await stack.claim_when(claim.name, is_ready, "the kafka claim to be Ready")
    # A custom type flows from the Addon's `provides` and `outputs` to the claim.
    assert bound.status.outputs.values["bootstrap"] == f"echo-{cid}-echo.echo:9092"
    deployment = stack.kube.get(DEPLOYMENT.format(cid))
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "MESSAGE", "value": "from-the-catalog"}]  # catalog values over the chart's
    assert deployment["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "threeport"
    assert stack.kube.get(f"/api/v1/namespaces/echo/configmaps/echo-{cid}-sidecar")["data"] == {"from": "sidecar"}

    # A catalog upgrade rolls the installation.
    upgraded = echo_addon(url, "1.1.0", digests["1.1.0"], defaultValues={"message": "upgraded"})
    await stack.apply_addon(upgraded)
    name = f"addonInstallations/echo-{cid}"
    await stack.installation_when(
        name,
        lambda i: i.status.installed_version == "1.1.0" and is_ready(i),
        "the installation to be upgraded to 1.1.0",
    )
    env = stack.kube.get(DEPLOYMENT.format(cid))["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "MESSAGE", "value": "upgraded"}]
    assert "Upgraded" in {e.reason for e in await stack.events(name)}


async def test_a_chart_from_an_oci_registry_is_pulled_pinned_by_version_and_digest(
    stack: Stack, oci_registry: tuple[str, str]
) -> None:
    reference, digest = oci_registry
    cid = stack.cluster.rsplit("/", 1)[-1]
    manifest = echo_addon("", "1.0.0")
    manifest["spec"]["versions"] = [
        {
            "version": "1.0.0",
            "chart": {"repository": reference, "version": "1.0.0", "digest": digest, "plainHttp": True},
        }
    ]
    await stack.apply_addon(manifest)
    claim = await stack.claim("stream", "kafka", "projects/acme/deployments/ledger-prod")
    await stack.claim_when(claim.name, is_ready, "the kafka claim to be Ready")
    assert stack.kube.get(DEPLOYMENT.format(cid)) is not None
    assert stack.kube.get(f"/api/v1/namespaces/echo/configmaps/echo-{cid}-sidecar") is not None


@pytest.mark.parametrize(
    ("change", "reason", "words"),
    [
        ({"version": "2.0.0"}, "RenderFailed", "nosuchfunction"),
        ({"values": {"replicas": 0}}, "InvalidValues", "replicas"),
        ({"digest": "sha256:" + "0" * 64}, "RenderFailed", "digest"),
    ],
)
async def test_a_broken_chart_or_bad_values_say_why_and_change_nothing(
    stack: Stack, chart_repository: tuple[str, dict[str, str]], change: dict[str, Any], reason: str, words: str
) -> None:
    url, digests = chart_repository
    version = change.get("version", "1.0.0")
    manifest = echo_addon(url, version, change.get("digest", digests[version]))
    await stack.apply_addon(manifest)
    installation = json_format.ParseDict(
        {"spec": {"addon": "addons/echo", "cluster": stack.cluster, "values": change.get("values", {})}},
        addon_installation_pb2.AddonInstallation(),
    )
    created = await stack.operator.addon_installation.create_addon_installation(
        addon_installation=installation, addon_installation_id="echo-manual"
    )
    failed = await stack.installation_when(
        created.name,
        lambda i: condition(i, "Ready") is not None and condition(i, "Ready").reason == reason,
        f"Ready=False {reason}",
    )
    assert words in condition(failed, "Ready").message
    assert not failed.status.objects
    assert stack.kube.get("/api/v1/namespaces/echo") is None  # nothing applied, not even the namespace
    assert reason in {e.reason for e in await stack.events(created.name)}


async def test_the_catalog_rejects_an_unpinned_chart_and_defaults_that_fail_its_schema(stack: Stack) -> None:
    manifest = echo_addon("http://127.0.0.1:1", "^1.0", defaultValues={"replicas": 0})
    with pytest.raises(InvalidArgumentError) as raised:
        await stack.apply_addon(manifest)
    message = str(raised.value)
    assert "addon.spec.versions[0].chart.version" in message and "pinned" in message
    assert "addon.spec.default_values.replicas" in message
    page = await stack.operator.addon.list_addons_page(page_size=100)
    assert "addons/echo" not in {a.name for a in page.addons}


def test_every_object_of_the_builtin_catalog_passes_the_kubernetes_schema() -> None:
    charts = ChartCache()
    checked = 0
    for addon in builtin_addons():
        values = json_format.MessageToDict(addon.spec.default_values)
        version = version_of(addon)
        assert version is not None
        rendered = asyncio.run(render(addon, version, values, release="check", charts=charts))
        own_groups = {o["spec"]["group"] for o in rendered.objects if o["kind"] == "CustomResourceDefinition"}
        for obj in rendered.objects:
            if obj["apiVersion"].rpartition("/")[0] in own_groups:
                continue  # a custom resource: its schema is the CRD the addon ships, checked by the API server
            kubernetes_validate.validate(obj, "1.32", strict=True)
            checked += 1
    assert {a.name for a in builtin_addons()} >= {
        "addons/ingress-nginx",
        "addons/cert-manager",
        "addons/external-dns",
        "addons/prometheus",
        "addons/loki",
        "addons/fluent-bit",
        "addons/external-secrets",
    }
    assert checked > 40


async def test_a_custom_type_flows_from_the_catalog_to_the_registrys_acceptance(
    stack: Stack, chart_repository: tuple[str, dict[str, str]], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, digests = chart_repository
    await asyncio.to_thread(upgrade, REGISTRY.migrations_dir, database_url)
    monkeypatch.setenv("THREEPORT_BACKEND_ADDONS", f"127.0.0.1:{stack.addons.port}")
    registry = await start_test_service(
        REGISTRY, make_settings("registry", database_url, stack.addons.runtime.settings.stream_prefix), FAST
    )
    admin = client(registry.port, ADMIN, stack.opened)
    app: dict[str, Any] = {
        "components": {
            "api": {
                "image": "registry.example.com/ledger/api:1.0.0",
                "env": {"BROKERS": "${dependencies.stream.bootstrap}"},
            }
        },
        "dependencies": {"stream": {"type": "kafka"}},
    }

    async def create() -> Any:
        message = json_format.ParseDict({"spec": app}, application_pb2.Application())
        return await admin.application.create_application(
            parent="projects/acme", application_id="ledger", application=message
        )

    try:
        with pytest.raises(InvalidArgumentError) as before:
            await create()
        assert "unknown type 'kafka'" in str(before.value) and "ingress" in str(before.value)

        await stack.apply_addon(echo_addon(url, "1.0.0", digests["1.0.0"]))

        async def accepted() -> Any:
            try:
                return await create()
            except InvalidArgumentError:
                return None

        created = await wait_until(accepted, within=WITHIN, interval=0.2, what="the registry to accept kafka")
        assert created.spec.dependencies["stream"].type == "kafka"

        app["dependencies"] = {"stream": {"type": "kafka"}, "other": {"type": "rabbitmq"}}
        app["components"]["api"]["env"] = {"BROKERS": "${dependencies.stream.nope}"}
        with pytest.raises(InvalidArgumentError) as after:
            message = json_format.ParseDict({"spec": app}, application_pb2.Application())
            await admin.application.create_application(
                parent="projects/acme", application_id="other", application=message
            )
        message_text = str(after.value)
        assert "unknown type 'rabbitmq'" in message_text and "kafka" in message_text  # kafka is now listed
        assert "no output 'nope'; available: bootstrap" in message_text
    finally:
        await registry.stop(grace=1.0)


async def test_every_builtin_addon_installs_and_becomes_healthy_in_a_cluster(stack: Stack) -> None:
    # Required addons first, so that each requirement is satisfied by the installation created here.
    names = [
        a.name.removeprefix("addons/") for a in sorted(builtin_addons(), key=lambda a: (len(a.spec.requires), a.name))
    ]
    for addon_id in names:
        installation = addon_installation_pb2.AddonInstallation(
            spec=addon_installation_pb2.AddonInstallationSpec(addon=f"addons/{addon_id}", cluster=stack.cluster)
        )
        await stack.operator.addon_installation.create_addon_installation(
            addon_installation=installation, addon_installation_id=f"all-{addon_id}"
        )
    for addon_id in names:
        ready = await stack.installation_when(f"addonInstallations/all-{addon_id}", is_ready, f"{addon_id} Ready")
        assert ready.status.objects, addon_id
    # Requirements were met by the installations already there, not by second ones.
    assert len(await stack.installations()) == len(names)
    with pytest.raises(AlreadyExistsError) as twice:
        await stack.operator.addon_installation.create_addon_installation(
            addon_installation=addon_installation_pb2.AddonInstallation(
                spec=addon_installation_pb2.AddonInstallationSpec(addon="addons/loki", cluster=stack.cluster)
            ),
            addon_installation_id="second-loki",
        )
    assert "addonInstallations/all-loki" in str(twice.value)
    assert stack.kube.get("/apis/monitoring.coreos.com/v1/namespaces/monitoring/prometheuses/prometheus")
    assert stack.kube.get("/apis/apps/v1/namespaces/logging/daemonsets/fluent-bit")
    assert stack.kube.get("/apis/external-secrets.io/v1beta1/clustersecretstores/aws-secrets-manager")


async def test_health_comes_from_the_installed_workloads(
    stack: Stack, chart_repository: tuple[str, dict[str, str]], emulator: EmulatorHandle
) -> None:
    url, digests = chart_repository
    cid = stack.cluster.rsplit("/", 1)[-1]
    emulator.control.image_pull_fail(cid, "registry.k8s.io/echoserver:*")
    try:
        await stack.apply_addon(echo_addon(url, "1.0.0", digests["1.0.0"]))
        claim = await stack.claim("stream", "kafka", "projects/acme/deployments/ledger-prod")
        name = f"addonInstallations/echo-{cid}"
        stuck = await stack.installation_when(
            name,
            lambda i: condition(i, "Ready") is not None and condition(i, "Ready").reason == "Progressing",
            "the installation to wait for its Deployment",
        )
        assert f"Deployment echo/echo-{cid}-echo" in condition(stuck, "Ready").message
        waiting = await stack.service.internal.addon_claim.get_addon_claim(name=claim.name)
        assert not is_ready(waiting) and not waiting.status.outputs.values  # no outputs before it is healthy
    finally:
        emulator.control.clear_faults(cid)
    await stack.installation_when(name, is_ready, "the installation to become Ready once the image pulls")
    await stack.claim_when(claim.name, is_ready, "the claim to become Ready")


async def test_an_installation_cannot_move_to_another_addon_or_cluster(stack: Stack) -> None:
    created = await stack.operator.addon_installation.create_addon_installation(
        addon_installation=addon_installation_pb2.AddonInstallation(
            spec=addon_installation_pb2.AddonInstallationSpec(addon="addons/loki", cluster=stack.cluster)
        ),
        addon_installation_id="logs",
    )
    await stack.installation_when(created.name, is_ready, "loki to be installed")
    moved = addon_installation_pb2.AddonInstallation(
        name=created.name,
        spec=addon_installation_pb2.AddonInstallationSpec(addon="addons/prometheus", cluster="clusters/elsewhere"),
    )
    with pytest.raises(InvalidArgumentError) as refused:
        await stack.operator.addon_installation.update_addon_installation(addon_installation=moved)
    assert "addon_installation.spec.addon" in str(refused.value)
    assert "addon_installation.spec.cluster" in str(refused.value)
    kept = await stack.operator.addon_installation.get_addon_installation(name=created.name)
    assert kept.spec.addon == "addons/loki" and kept.spec.cluster == stack.cluster
