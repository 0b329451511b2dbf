"""ClusterClaim change events name the claim's owner, so the owner's controller (delivery's
``Owns``) maps them to its key without calling the cluster-manager."""

from __future__ import annotations

from redis.asyncio import Redis

from threeport.clusters.v1alpha1 import cluster_claim_pb2
from threeport.common.v1alpha1 import change_event_pb2
from threeport_runtime.bus.streams import PAYLOAD_FIELD, resource_stream
from threeport_runtime.testing import wait_until

from .conftest import ClusterManager

OWNER = "projects/acme/deployments/shop-dev"


async def test_every_claim_event_carries_the_owner(
    manager: ClusterManager, redis_client: Redis, stream_prefix: str
) -> None:
    claim = await manager.internal.internal.cluster_claim.create_cluster_claim(
        cluster_claim_id="owned",
        cluster_claim=cluster_claim_pb2.ClusterClaim(spec=cluster_claim_pb2.ClusterClaimSpec(owner=OWNER)),
    )
    stream = resource_stream(stream_prefix, "threeport.clusters.v1alpha1.ClusterClaim")

    async def events() -> list[change_event_pb2.ChangeEvent]:
        found = [
            change_event_pb2.ChangeEvent.FromString(fields[PAYLOAD_FIELD.encode()])
            for _, fields in await redis_client.xrange(stream)
        ]
        return [event for event in found if event.name == claim.name]

    async def created_and_status() -> list[change_event_pb2.ChangeEvent] | None:
        seen = await events()
        changes = {event.change for event in seen}
        wanted = {change_event_pb2.CHANGE_TYPE_CREATED, change_event_pb2.CHANGE_TYPE_STATUS_CHANGED}
        return seen if wanted <= changes else None

    seen = await wait_until(created_and_status, what="the claim's created and status events")
    assert {event.owner for event in seen} == {OWNER}
