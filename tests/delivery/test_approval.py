"""Approving publishes a change event like every other write (issue 15 item 6): the Release
stream carries CREATED for each release and UPDATED when one is approved, and that event is
what rolls the release out (no reaching into a local controller's queue)."""

from __future__ import annotations

from redis.asyncio import Redis

from threeport.common.v1alpha1 import change_event_pb2
from threeport_runtime.bus.streams import PAYLOAD_FIELD, resource_stream
from threeport_runtime.testing import wait_until

from .conftest import PARENT, WITHIN, Stack, condition
from .samples import RATES

PROD = f"{PARENT}/deployments/rates-prod"


async def test_approval_is_published_on_the_release_stream_and_rolls_out(stack: Stack, redis_client: Redis) -> None:
    await stack.apply_application("rates", RATES)
    await stack.admin.deployment.deploy(parent=PARENT, application="rates", environment="prod")
    await stack.deployment_when(PROD, lambda d: condition(d, "Ready") is not None
                                and condition(d, "Ready").reason == "AwaitingApproval", "prod to wait for approval")
    stream = resource_stream(stack.settings.stream_prefix, "threeport.delivery.v1alpha1.Release")

    async def published() -> list[tuple[str, int]]:
        seen = []
        for _id, fields in await redis_client.xrange(stream):
            event = change_event_pb2.ChangeEvent.FromString(fields[PAYLOAD_FIELD.encode()])
            seen.append((event.name, event.change))
        return seen

    async def created() -> bool:
        return (f"{PROD}/releases/1", change_event_pb2.CHANGE_TYPE_CREATED) in await published()

    await wait_until(created, within=WITHIN, what="release 1's CREATED event")
    await stack.admin.deployment.approve(name=PROD)

    async def approved() -> bool:
        return (f"{PROD}/releases/1", change_event_pb2.CHANGE_TYPE_UPDATED) in await published()

    await wait_until(approved, within=WITHIN, what="the approval's UPDATED event")
    await stack.ready(PROD)
