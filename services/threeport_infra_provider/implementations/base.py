"""The interface every managed-service implementation fulfils, and what it reports back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, TypeAlias

from threeport.infra.v1alpha1 import managed_service_pb2, service_claim_pb2
from threeport_infra_provider.domain.outputs import Outputs

CloudResource = managed_service_pb2.CloudResource
PlannedResource = service_claim_pb2.PlannedResource
PlannedAction: TypeAlias = service_claim_pb2.PlannedAction.ValueType
CREATE = service_claim_pb2.PLANNED_ACTION_CREATE
MODIFY = service_claim_pb2.PLANNED_ACTION_MODIFY
UNCHANGED = service_claim_pb2.PLANNED_ACTION_UNCHANGED
REFUSED = service_claim_pb2.PLANNED_ACTION_REFUSED


class ImplementationError(Exception):
    """The cloud or cluster refused or could not be reached; retried with backoff."""


class Refused(Exception):
    """A change that cannot be applied in place; the message says what would be needed."""


@dataclass
class Converged:
    ready: bool
    message: str
    outputs: Outputs = field(default_factory=Outputs)
    # What exists, in creation order (recorded before and after every create).
    inventory: list[CloudResource] = field(default_factory=list)
    # Differences between what is wanted and what exists, found by the periodic check.
    drift: list[str] = field(default_factory=list)
    # Spec changes applied in place during this pass (reported as events).
    changes: list[str] = field(default_factory=list)


class Inventory(Protocol):
    """Records a resource in the service's inventory: before a create (state ``creating``) and
    after it (its id and state), so that a crash in between leaves a record to resume from."""

    async def __call__(self, resource: CloudResource) -> None: ...


class Implementation(Protocol):
    name: str

    async def converge(
        self, service: managed_service_pb2.ManagedService, secrets: dict[str, str], record: Inventory
    ) -> Converged:
        """Creates what is missing and applies in-place changes; idempotent."""
        ...

    async def plan(
        self, service: managed_service_pb2.ManagedService, *, current: managed_service_pb2.ManagedService | None
    ) -> list[PlannedResource]:
        """What ``converge`` would create or change to make ``service``, reading only (``tptctl
        plan``); ``current``: the managed service as it is now, None if it does not exist yet.
        Raises ``Refused`` when nothing can be made (no default VPC) and ``ImplementationError``
        when the cloud cannot be asked."""
        ...

    async def delete(self, service: managed_service_pb2.ManagedService, *, retain: bool) -> bool:
        """Removes the service; ``retain`` keeps its data (an RDS final snapshot, a local PVC).
        True once gone."""
        ...
