"""EventService.ListEvents over the runtime's generic event lister."""

from __future__ import annotations

from typing import Any

from threeport.clusters.v1alpha1 import event_service_pb2, event_service_pb2_grpc
from threeport_runtime.reconcile.events import EventLister


class EventServicer(event_service_pb2_grpc.EventServiceServicer):
    def __init__(self, events: EventLister):
        self._events = events

    async def ListEvents(
        self, request: event_service_pb2.ListEventsRequest, context: Any
    ) -> event_service_pb2.ListEventsResponse:
        return await self._events.respond(request, event_service_pb2.ListEventsResponse)
