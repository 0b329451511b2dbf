"""The claim lifecycle (issue 15 item 4): a dependency added is claimed, a changed class updates
the claim, a removed dependency releases it, and deleting the deployment while the provider is
down waits for the provider instead of forgetting the claim.

Delivery, the registry and the cluster-manager run for real (PostgreSQL, Redis, the emulator).
The infra-provider does not exist yet, so the provider end of ServiceClaimService is a small
in-test server that binds every claim at once: it stands in for the future service only here.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc

from threeport.common.v1alpha1 import condition_pb2, outputs_pb2
from threeport.infra.v1alpha1 import service_claim_pb2, service_claim_pb2_grpc
from threeport_runtime.testing import free_port, start_test_service, wait_until
from threeport_workload_delivery.service import DEFINITION as DELIVERY

from .conftest import ADMIN, FAST, PARENT, WITHIN, Stack, client, condition, delivery_env, is_ready
from .samples import RATES

DEV = f"{PARENT}/deployments/rates-dev"


class ClaimProvider(service_claim_pb2_grpc.ServiceClaimServiceServicer):
    """Binds claims at once (Ready for their generation, with outputs); forgets them on delete."""

    def __init__(self) -> None:
        self.claims: dict[str, service_claim_pb2.ServiceClaim] = {}
        self.planned: list[str] = []  # the claims PlanServiceClaim was asked about
        self.server: Any = None
        self.port = free_port()

    async def start(self) -> None:
        self.server = grpc.aio.server()
        service_claim_pb2_grpc.add_ServiceClaimServiceServicer_to_server(self, self.server)
        self.server.add_insecure_port(f"127.0.0.1:{self.port}")
        await self.server.start()

    async def stop(self) -> None:
        await self.server.stop(grace=None)

    def _bind(self, claim: service_claim_pb2.ServiceClaim) -> service_claim_pb2.ServiceClaim:
        del claim.conditions[:]
        claim.conditions.append(condition_pb2.Condition(
            type="Ready", status=condition_pb2.CONDITION_STATUS_TRUE, reason="Bound",
            observed_generation=claim.generation))
        claim.status.outputs.CopyFrom(outputs_pb2.Outputs(
            values={"host": "db.local", "port": "5432"}, secrets={"password": "s3cret", "url": "postgres://db"}))
        claim.etag = uuid.uuid4().hex
        self.claims[claim.name] = claim
        return claim

    async def _get(self, name: str, context: Any) -> service_claim_pb2.ServiceClaim:
        if name not in self.claims:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"{name} not found")
        return self.claims[name]

    async def CreateServiceClaim(self, request: Any, context: Any) -> service_claim_pb2.ServiceClaim:
        name = f"serviceClaims/{request.service_claim_id}"
        if name in self.claims:
            await context.abort(grpc.StatusCode.ALREADY_EXISTS, f"{name} exists")
        claim = service_claim_pb2.ServiceClaim(name=name, uid=uuid.uuid4().hex, generation=1,
                                               spec=request.service_claim.spec)
        return self._bind(claim)

    async def GetServiceClaim(self, request: Any, context: Any) -> service_claim_pb2.ServiceClaim:
        return await self._get(request.name, context)

    async def UpdateServiceClaim(self, request: Any, context: Any) -> service_claim_pb2.ServiceClaim:
        claim = await self._get(request.service_claim.name, context)
        updated = service_claim_pb2.ServiceClaim()
        updated.CopyFrom(claim)
        updated.spec.CopyFrom(request.service_claim.spec)
        updated.generation += 1
        return self._bind(updated)

    async def PlanServiceClaim(self, request: Any, context: Any) -> service_claim_pb2.PlanServiceClaimResponse:
        self.planned.append(request.name)
        return service_claim_pb2.PlanServiceClaimResponse(
            implementation="aws-rds", managed_service="managedServices/rates-db", retain=True, resources=[
                service_claim_pb2.PlannedResource(
                    type="AWS::EC2::SecurityGroup", id="tp-rates-db", description="in vpc-1",
                    action=service_claim_pb2.PLANNED_ACTION_UNCHANGED),
                service_claim_pb2.PlannedResource(
                    type="AWS::RDS::DBInstance", id="tp-rates-db", description="in place: class a → b",
                    action=service_claim_pb2.PLANNED_ACTION_MODIFY),
            ])

    async def DeleteServiceClaim(self, request: Any, context: Any) -> service_claim_pb2.ServiceClaim:
        if request.name not in self.claims and not request.allow_missing:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"{request.name} not found")
        return self.claims.pop(request.name, service_claim_pb2.ServiceClaim())


def with_db(klass: str | None) -> dict[str, Any]:
    if klass is None:
        return {**RATES, "dependencies": {}}
    return {**RATES, "dependencies": {"db": {"type": "postgres", "class": klass}}}


@asynccontextmanager
async def with_claim_provider(world, monkeypatch) -> AsyncIterator[tuple[Stack, ClaimProvider]]:  # type: ignore[no-untyped-def]
    """Delivery whose infra backend is a ``ClaimProvider`` (both stopped at the end)."""
    registry, clusters, kube, _cluster, settings, opened = world
    provider = ClaimProvider()  # type: ignore[abstract]  # only the RPCs delivery calls
    await provider.start()
    delivery_env(monkeypatch, registry.port, clusters.port)
    monkeypatch.setenv("THREEPORT_BACKEND_INFRA", f"127.0.0.1:{provider.port}")
    delivery = await start_test_service(DELIVERY, settings, FAST)
    try:
        yield Stack(delivery=delivery, registry=registry, clusters=clusters, kube=kube, cluster="",
                    settings=settings, admin=client(delivery.port, ADMIN, opened), deployer=None,  # type: ignore[arg-type]
                    registry_admin=client(registry.port, ADMIN, opened), registry_deployer=None,  # type: ignore[arg-type]
                    clusters_operator=None, clusters_service=None, opened=opened), provider  # type: ignore[arg-type]
    finally:
        await delivery.stop(grace=1.0)
        await provider.stop()


async def test_claims_are_created_updated_released_and_waited_for(world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    async with with_claim_provider(world, monkeypatch) as (stack, provider):

        def classes() -> list[str]:
            return [getattr(c.spec, "class") for c in provider.claims.values()]

        # Added: claimed and bound.
        await stack.apply_application("rates", with_db("small"))
        await stack.admin.deployment.deploy(parent=PARENT, application="rates", environment="dev")
        bound = await stack.ready(DEV)
        assert [(d.name, d.reason) for d in bound.status.dependencies] == [("db", "Bound")]
        assert classes() == ["small"]
        claim = bound.status.dependencies[0].claim
        assert provider.claims[claim].spec.owner == DEV

        # Plan asks the provider about the existing claim and shows only what would change.
        planned = await stack.admin.deployment.plan(name=DEV)
        (node,) = [n for n in planned.root.children if n.kind == "service"]
        assert node.message.endswith(
            "; managedServices/rates-db: would modify DBInstance tp-rates-db (in place: class a → b); retained once "
            "no claim uses it"), node.message
        assert provider.planned == [claim]

        # Changed class: the same claim is updated.
        await stack.apply_application("rates", with_db("large"))

        async def updated() -> bool:
            return classes() == ["large"]

        await wait_until(updated, within=WITHIN, what="the claim's class to be updated")
        assert list(provider.claims) == [claim]
        await stack.deployment_when(DEV, lambda d: is_ready(d) and d.status.dependencies[0].reason == "Bound",
                                    "the updated claim to be bound again")

        # Removed: released, and no longer listed once gone.
        await stack.apply_application("rates", with_db(None))
        await stack.deployment_when(DEV, lambda d: is_ready(d) and not d.status.dependencies and not provider.claims,
                                    "the removed dependency's claim to be released")
        assert "ClaimReleased" in {e.reason for e in await stack.events(DEV)}

        # Provider down during delete: the deletion waits and says why; it finishes when it is back.
        await stack.apply_application("rates", with_db("small"))
        await stack.deployment_when(DEV, lambda d: is_ready(d) and len(d.status.dependencies) == 1,
                                    "the dependency to be claimed again")
        await provider.stop()
        await stack.admin.deployment.delete_deployment(name=DEV)
        blocked = await stack.deployment_when(
            DEV, lambda d: "unavailable" in d.status.deletion_blocked_by, "the deletion to wait for the provider")
        assert "infra-provider" in blocked.status.deletion_blocked_by
        assert len(provider.claims) == 1
        assert "WaitingForProvider" in {e.reason for e in await stack.events(DEV)}
        await provider.start()
        await stack.gone(DEV, "the deletion to finish once the provider is back")
        assert provider.claims == {}


async def test_a_changed_placement_is_reported_not_applied_behind_the_users_back(stack: Stack) -> None:
    await stack.apply_application("rates", RATES)
    await stack.admin.deployment.deploy(parent=PARENT, application="rates", environment="dev")
    placed = await stack.ready(DEV)
    assert condition(placed, "Placed").reason == "Placed"
    await stack.apply_application("rates", {**RATES, "placement": {"clusterLabels": {"tier": "gold"}}})
    moved = await stack.deployment_when(
        DEV, lambda d: is_ready(d) and condition(d, "Placed").reason == "PlacementChanged",
        "the changed placement to be reported")
    assert "requirements" in condition(moved, "Placed").message
    assert moved.status.cluster == placed.status.cluster
