"""The driver interface every provider implements: create, delete and connect (probing is
plain Kubernetes, the same for every provider: see ``threeport_cluster_manager.probe``).

Drivers are idempotent and keyed by the cluster's uid-derived provider name, so the reconciler
may call ``create`` and ``delete`` as often as it likes, including after a crash mid-way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from threeport.clusters.v1alpha1 import cluster_pb2
from threeport_cluster_manager.domain.names import last_segment, provisioned_cluster_id
from threeport_runtime.kube.connection import Connection


@dataclass(frozen=True)
class Provisioning:
    """Progress of ``create``: ``ready`` once the API server is up. ``connection``, when given, is
    stored encrypted and used by ``connect``; ``infrastructure`` names what was created."""

    ready: bool
    message: str = ""
    connection: Connection | None = None
    infrastructure: str = ""


class DriverError(Exception):
    """A provider-side failure worth retrying later; the message is safe to show."""


class ProviderUnavailable(Exception):
    """The provider cannot be used in this deployment; the message says what is missing."""


class Driver(Protocol):
    provider: str

    def unavailable(self) -> str | None:
        """Why this provider cannot be used here (a missing binary, an unset address), or None."""

    async def create(self, cluster: cluster_pb2.Cluster) -> Provisioning:
        """Creates the cluster or reports the progress of an earlier create."""

    async def delete(self, cluster: cluster_pb2.Cluster) -> bool:
        """Deletes the cluster's infrastructure; True once it is gone."""

    async def connect(self, cluster: cluster_pb2.Cluster) -> Connection | None:
        """How to reach the API server now; None when no connection is known yet."""


def provider_name(cluster: cluster_pb2.Cluster) -> str:
    """The provider-side name of a provisioned cluster."""
    return provisioned_cluster_id(last_segment(cluster.name), cluster.uid)
