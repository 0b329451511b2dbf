"""Chooses the driver for a provider and says why a provider cannot be used."""

from __future__ import annotations

from threeport.sdk import AsyncClient
from threeport_cluster_manager.config import ClusterManagerConfig
from threeport_cluster_manager.drivers.attached import AttachedDriver
from threeport_cluster_manager.drivers.base import Driver
from threeport_cluster_manager.drivers.eks import EksDriver
from threeport_cluster_manager.drivers.kind import KindDriver
from threeport_cluster_manager.drivers.sim import SimDriver
from threeport_cluster_manager.store.credentials import CredentialStore

PROVIDERS = ("attached", "sim", "eks", "kind")
PROVISIONED = ("sim", "eks", "kind")


class Drivers:
    def __init__(
        self,
        config: ClusterManagerConfig,
        credentials: CredentialStore,
        infra: AsyncClient | None,
        registry: AsyncClient | None = None,
    ):
        self._drivers: dict[str, Driver] = {
            "attached": AttachedDriver(credentials),
            "sim": SimDriver(config.kubesim_url, credentials),
            "eks": EksDriver(infra, registry),
            "kind": KindDriver(config.kind_binary, credentials),
        }

    def get(self, provider: str) -> Driver:
        driver = self._drivers.get(provider)
        if driver is None:
            raise KeyError(provider)
        return driver

    def unavailable(self, provider: str) -> str | None:
        """Why ``provider`` cannot be used to create a cluster here, or None."""
        driver = self._drivers.get(provider)
        if driver is None:
            return f"unknown provider {provider!r}; use one of {', '.join(PROVISIONED)}"
        return driver.unavailable()
