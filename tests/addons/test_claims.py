"""AddonClaims → installations: install once in dependency order, share, ref-count, uninstall
after the grace period and not before."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from google.protobuf import field_mask_pb2

from tests.addons.conftest import OPERATOR, Stack
from tests.delivery.conftest import client, condition, is_ready
from threeport.addons.v1alpha1 import addon_claim_pb2
from threeport.sdk import FailedPreconditionError, InvalidArgumentError
from threeport_kubesim.testing import EmulatorHandle
from threeport_runtime.testing import wait_until

INGRESS = "addonInstallations/ingress-nginx-{}"
CERT_MANAGER = "addonInstallations/cert-manager-{}"


def cluster_id(stack: Stack) -> str:
    return stack.cluster.rsplit("/", 1)[-1]


async def test_first_claim_installs_the_addon_and_its_requirement_once(stack: Stack) -> None:
    first = await stack.claim(
        "ledger-web",
        "ingress",
        "projects/acme/deployments/ledger-prod",
        params={"component": "api", "port": "http", "host": "ledger.example.com", "tls": True},
    )
    bound = await stack.claim_when(first.name, is_ready, "the first ingress claim to be Ready")
    cid = cluster_id(stack)
    assert bound.status.installation == INGRESS.format(cid)
    assert dict(bound.status.outputs.values) == {
        "ingressClass": "nginx",
        "clusterIssuer": "letsencrypt-production",
        "host": "ledger.example.com",  # per claim, from its params
        "url": "https://ledger.example.com",
    }
    # cert-manager (required by the ingress controller) went in first, its CRDs before its issuer.
    assert await stack.installations() == [CERT_MANAGER.format(cid), INGRESS.format(cid)]
    assert stack.kube.get("/apis/apps/v1/namespaces/ingress-nginx/deployments/ingress-nginx-controller")
    assert stack.kube.get("/apis/apps/v1/namespaces/cert-manager/deployments/cert-manager")
    issuer = stack.kube.get("/apis/cert-manager.io/v1/clusterissuers/letsencrypt-production")
    assert issuer["spec"]["acme"]["server"] == "https://acme-v02.api.letsencrypt.org/directory"
    ingress = await stack.installation_when(INGRESS.format(cid), is_ready, "the ingress installation to be Ready")
    assert list(ingress.status.claims) == [first.name]
    assert ingress.status.installed_version == "1.11.2"
    installed = [e for e in await stack.events(ingress.name) if e.reason == "Installed"]
    assert len(installed) == 1

    # The catalog entry is accepted and counts its installations.
    async def counted() -> bool:
        addon = await stack.operator.addon.get_addon(name="addons/ingress-nginx")
        return is_ready(addon) and addon.status.installation_count == 1 and addon.status.system_default

    await wait_until(counted, within=30, interval=0.2, what="ingress-nginx Ready with one installation")

    second = await stack.claim("rates-web", "ingress", "projects/acme/deployments/rates-prod")
    other = await stack.claim_when(second.name, is_ready, "the second ingress claim to be Ready")
    assert "host" not in other.status.outputs.values and other.status.outputs.values["ingressClass"] == "nginx"
    assert await stack.installations() == [CERT_MANAGER.format(cid), INGRESS.format(cid)]
    shared = await stack.installation_when(
        INGRESS.format(cid), lambda i: len(i.status.claims) == 2, "both claims to be counted"
    )
    assert sorted(shared.status.claims) == sorted([first.name, second.name])
    assert len([e for e in await stack.events(ingress.name) if e.reason == "Installed"]) == 1


@pytest.fixture
def short_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    """This test is about the grace period: the addon-manager starts with a short one."""
    monkeypatch.setenv("THREEPORT_ADDONS_UNINSTALL_GRACE", "4s")


async def test_unused_installations_are_removed_after_the_grace_period_and_not_before(
    short_grace: None, stack: Stack
) -> None:
    cid = cluster_id(stack)
    claims = [await stack.claim(f"app-{n}", "ingress", f"projects/acme/deployments/app-{n}") for n in (1, 2)]
    for claim in claims:
        await stack.claim_when(claim.name, is_ready, f"{claim.name} to be Ready")
    deployment = "/apis/apps/v1/namespaces/ingress-nginx/deployments/ingress-nginx-controller"

    await stack.service.internal.addon_claim.delete_addon_claim(name=claims[0].name)
    await asyncio.sleep(5)  # longer than the grace period: one claim is still there
    assert stack.kube.get(deployment) is not None
    assert INGRESS.format(cid) in await stack.installations()

    await stack.service.internal.addon_claim.delete_addon_claim(name=claims[1].name)
    unused = await stack.installation_when(
        INGRESS.format(cid), lambda i: i.status.HasField("unused_since"), "the installation to be unused"
    )
    assert not unused.HasField("delete_time")
    assert stack.kube.get(deployment) is not None  # within the grace period: still installed

    issuer = "/apis/cert-manager.io/v1/clusterissuers/letsencrypt-production"

    async def gone() -> bool:
        return stack.kube.get(deployment) is None and stack.kube.get(issuer) is None and not await stack.installations()

    # Installations go only once their objects are gone (deletion may take a while in a cluster).
    await wait_until(gone, within=30, interval=0.2, what="the ingress controller and cert-manager to be uninstalled")


async def test_a_claim_for_a_type_no_addon_provides_says_which_types_are_provided(stack: Stack) -> None:
    claim = await stack.claim("stream", "kafka", "projects/acme/deployments/ledger-prod")
    found = await stack.claim_when(claim.name, lambda c: condition(c, "Ready") is not None, "a Ready condition")
    ready = condition(found, "Ready")
    assert ready.reason == "NoAddonForType"
    assert "'kafka'" in ready.message and "ingress" in ready.message
    assert await stack.installations() == []


async def test_a_bad_claim_is_refused_naming_each_field_and_nothing_is_written(stack: Stack) -> None:
    bad = addon_claim_pb2.AddonClaim(spec=addon_claim_pb2.AddonClaimSpec(type="Kafka!", cluster="local", addon="kafka"))
    with pytest.raises(InvalidArgumentError) as refused:
        await stack.service.internal.addon_claim.create_addon_claim(addon_claim=bad, addon_claim_id="bad")
    message = str(refused.value)
    for field in (
        "addon_claim.spec.owner",
        "addon_claim.spec.type",
        "addon_claim.spec.cluster",
        "addon_claim.spec.addon",
    ):
        assert field in message
    page = await stack.service.internal.addon_claim.list_addon_claims_page(page_size=10)
    assert not page.addon_claims


async def test_an_installed_addon_cannot_be_deleted_from_the_catalog_without_force(stack: Stack) -> None:
    claim = await stack.claim("web", "ingress", "projects/acme/deployments/web-prod")
    await stack.claim_when(claim.name, is_ready, "the claim to be Ready")
    with pytest.raises(FailedPreconditionError) as refused:
        await stack.operator.addon.delete_addon(name="addons/cert-manager")
    assert f"addonInstallations/cert-manager-{cluster_id(stack)}" in str(refused.value)


async def test_a_claim_moved_to_another_cluster_is_bound_there_and_released_here(
    stack: Stack, emulator: EmulatorHandle
) -> None:
    claim = await stack.claim("web", "ingress", "projects/acme/deployments/web-prod")
    await stack.claim_when(claim.name, is_ready, "the claim to be Ready")
    here = INGRESS.format(cluster_id(stack))
    other_id = f"o-{uuid.uuid4().hex[:6]}"
    info = emulator.add_cluster(other_id)
    try:
        kubeconfig = await asyncio.to_thread(Path(info.kubeconfig_path).read_text, encoding="utf-8")
        clusters = client(stack.clusters.port, OPERATOR, stack.opened)
        other = await clusters.cluster.attach_cluster(cluster_id=other_id, kubeconfig=kubeconfig)
        moved = addon_claim_pb2.AddonClaim(name=claim.name)
        moved.spec.CopyFrom(claim.spec)
        moved.spec.cluster = other.name
        await stack.service.internal.addon_claim.update_addon_claim(
            addon_claim=moved, update_mask=field_mask_pb2.FieldMask(paths=["spec"])
        )
        rebound = await stack.claim_when(
            claim.name,
            lambda c: c.status.installation == INGRESS.format(other_id) and is_ready(c),
            "the claim to be bound in the other cluster",
        )
        assert rebound.status.outputs.values["ingressClass"] == "nginx"
        left = await stack.installation_when(here, lambda i: not i.status.claims, "the first cluster's to be unused")
        assert left.status.HasField("unused_since")
    finally:
        emulator.remove_cluster(other_id)


async def test_plan_says_what_a_claim_would_pull_in_and_what_is_there_changing_nothing(stack: Stack) -> None:
    spec = addon_claim_pb2.AddonClaimSpec(type="ingress", cluster=stack.cluster)
    plan = stack.service.internal.addon_claim.plan_addon_claim
    before = await plan(spec=spec)
    assert [(a.addon, a.installation) for a in before.addons] == [
        ("addons/ingress-nginx", ""),
        ("addons/cert-manager", ""),
    ]
    assert await stack.installations() == []  # a plan changes nothing

    claim = await stack.claim("web", "ingress", "projects/acme/deployments/web-prod")
    await stack.claim_when(claim.name, is_ready, "the claim to be Ready")
    after = await plan(spec=spec)
    cid = cluster_id(stack)
    assert [(a.addon, a.installation) for a in after.addons] == [
        ("addons/ingress-nginx", INGRESS.format(cid)),
        ("addons/cert-manager", CERT_MANAGER.format(cid)),
    ]

    # Before placement (no cluster chosen yet) the chain is the same, with nothing installed.
    unplaced = await plan(spec=addon_claim_pb2.AddonClaimSpec(type="ingress"))
    assert [(a.addon, a.installation) for a in unplaced.addons] == [
        ("addons/ingress-nginx", ""),
        ("addons/cert-manager", ""),
    ]

    nothing = await plan(spec=addon_claim_pb2.AddonClaimSpec(type="kafka", cluster=stack.cluster))
    assert not nothing.addons and "no addon in the catalog provides 'kafka'" in nothing.problem
