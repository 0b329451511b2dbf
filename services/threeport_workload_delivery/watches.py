"""What wakes delivery's controllers, declared in one place (``For`` / ``Owns`` / ``Watches``).

- ``delivery.deployment`` reconciles Deployments. It owns ClusterClaims (their change events
  carry ``owner``, so a claim's status change maps to its deployment without a call to the
  cluster-manager), and watches applications and environments (registry streams), which map to
  the deployments of that project naming them. A Build (reported, then its matching environments
  recorded) wakes the deployments of its application, which derive their images from the newest
  matching build themselves; an approval (a Release UPDATED) wakes its deployment; an app
  Secret's change wakes its deployment, a RegistryCredential's the deployments of its project. The periodic
  resync corrects drift and makes a lost build event cost latency, never a rollout.

``service.py`` puts the caches of ``remote_reads`` in front of these watches: each event of the
registry's and cluster-manager's streams first forgets what it changed, then wakes deployments.
"""

from __future__ import annotations

from dataclasses import dataclass

from threeport.common.v1alpha1 import change_event_pb2
from threeport.delivery.v1alpha1 import deployment_pb2
from threeport_runtime.bus.streams import resource_stream
from threeport_runtime.db.repository import ResourceRepository
from threeport_runtime.reconcile.controller import Watch
from threeport_runtime.reconcile.spec import ControllerSpec, For, Owns
from threeport_workload_delivery.store.tables import DeploymentRow

Deployments = ResourceRepository[deployment_pb2.Deployment, DeploymentRow]

SPEC_CHANGES = frozenset({change_event_pb2.CHANGE_TYPE_UPDATED, change_event_pb2.CHANGE_TYPE_CREATED})
STATUS_CHANGES = frozenset({change_event_pb2.CHANGE_TYPE_STATUS_CHANGED})
# A build is reported (CREATED), then the registry records the environments it matches.
BUILD_CHANGES = frozenset({change_event_pb2.CHANGE_TYPE_CREATED, change_event_pb2.CHANGE_TYPE_STATUS_CHANGED})
RELEASE_CHANGES = frozenset({change_event_pb2.CHANGE_TYPE_UPDATED})
SECRET_CHANGES = frozenset({change_event_pb2.CHANGE_TYPE_CREATED, change_event_pb2.CHANGE_TYPE_UPDATED,
                            change_event_pb2.CHANGE_TYPE_DELETED})
DEPLOYMENT_NAMES = "projects/*/deployments/*"


@dataclass(frozen=True)
class DeploymentsNaming:
    """Maps ``projects/P/applications/A`` (or ``environments/E``) to the deployments of P whose
    ``field`` names it."""

    deployments: Deployments
    field: str

    async def __call__(self, event: change_event_pb2.ChangeEvent) -> list[str]:
        parts = event.name.split("/")
        return list(await self.deployments.names_with(self.field, parts[3], parent="/".join(parts[:2])))


async def secret_owner(event: change_event_pb2.ChangeEvent) -> list[str]:
    """``projects/P/deployments/D/secrets/S`` -> the deployment (a new value rolls its pods)."""
    return [event.name.rsplit("/secrets/", 1)[0]]


@dataclass(frozen=True)
class ProjectDeployments:
    """``projects/P/registryCredentials/C`` -> every deployment of P (those not using it re-render
    to the same objects, which costs a read and no write). Names only: no deployment is read
    whole or converted for it."""

    deployments: Deployments

    async def __call__(self, event: change_event_pb2.ChangeEvent) -> list[str]:
        project = "/".join(event.name.split("/")[:2])
        return [name async for name in self.deployments.iter_names(parent=project)]


async def release_owner(event: change_event_pb2.ChangeEvent) -> list[str]:
    """``projects/P/deployments/D/releases/N`` -> the deployment (an approval to roll out)."""
    return [event.name.rsplit("/releases/", 1)[0]]


def deployment_controller(deployments: Deployments, releases_stream: str, prefix: str) -> ControllerSpec:
    return ControllerSpec(
        "delivery.deployment",
        for_=For.resource(deployments),
        owns=[
            Owns(
                resource_stream(prefix, "threeport.clusters.v1alpha1.ClusterClaim"),
                owner=DEPLOYMENT_NAMES,
                changes=STATUS_CHANGES,
            )
        ],
        watches=[
            Watch(
                resource_stream(prefix, "threeport.registry.v1alpha1.Application"),
                keys=DeploymentsNaming(deployments, "spec.application"),
                changes=SPEC_CHANGES,
            ),
            Watch(
                resource_stream(prefix, "threeport.registry.v1alpha1.Environment"),
                keys=DeploymentsNaming(deployments, "spec.environment"),
                changes=SPEC_CHANGES,
            ),
            # projects/P/applications/A/builds/B -> the deployments of A.
            Watch(
                resource_stream(prefix, "threeport.registry.v1alpha1.Build"),
                keys=DeploymentsNaming(deployments, "spec.application"),
                changes=BUILD_CHANGES,
            ),
            Watch(releases_stream, keys=release_owner, changes=RELEASE_CHANGES),
            Watch(resource_stream(prefix, "threeport.delivery.v1alpha1.Secret"), keys=secret_owner,
                  changes=SECRET_CHANGES),
            Watch(resource_stream(prefix, "threeport.delivery.v1alpha1.RegistryCredential"),
                  keys=ProjectDeployments(deployments), changes=SECRET_CHANGES),
        ],
    )

