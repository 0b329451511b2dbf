"""The ``kind`` driver: local clusters in containers, where ``kind`` and a container runtime exist.

Where either is missing the provider is unavailable and creating a ``kind`` cluster fails at
once with FAILED_PRECONDITION naming what is missing, leaving nothing behind.
"""

from __future__ import annotations

import asyncio
import shutil

from threeport.clusters.v1alpha1 import cluster_pb2
from threeport_cluster_manager.domain.kubeconfig import KubeconfigError, parse_kubeconfig
from threeport_cluster_manager.drivers.base import DriverError, Provisioning, provider_name
from threeport_cluster_manager.store.credentials import CredentialStore
from threeport_runtime.kube.connection import Connection

RUNTIMES = ("docker", "podman", "nerdctl")


class KindDriver:
    provider = "kind"

    def __init__(self, binary: str, credentials: CredentialStore):
        self._binary = binary
        self._credentials = credentials

    def unavailable(self) -> str | None:
        missing = []
        if shutil.which(self._binary) is None:
            missing.append(f"the `{self._binary}` binary (set THREEPORT_KIND_BINARY or install kind)")
        if not any(shutil.which(runtime) for runtime in RUNTIMES):
            missing.append("a container runtime (" + ", ".join(RUNTIMES) + ")")
        if missing:
            return "the kind provider cannot be used on this host: missing " + " and ".join(missing)
        return None

    async def _kind(self, *arguments: str) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            self._binary, *arguments, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        output, _ = await process.communicate()
        return process.returncode or 0, output.decode(errors="replace")

    async def create(self, cluster: cluster_pb2.Cluster) -> Provisioning:
        name = provider_name(cluster)
        code, listing = await self._kind("get", "clusters")
        if code != 0:
            raise DriverError(f"`kind get clusters` failed: {listing.strip()[-300:]}")
        if name not in listing.split():
            arguments = ["create", "cluster", "--name", name]
            if cluster.spec.kubernetes_version:
                arguments += ["--image", f"kindest/node:v{cluster.spec.kubernetes_version.lstrip('v')}"]
            code, output = await self._kind(*arguments)
            if code != 0:
                raise DriverError(f"`kind create cluster` failed: {output.strip()[-300:]}")
        code, kubeconfig = await self._kind("get", "kubeconfig", "--name", name)
        if code != 0:
            raise DriverError(f"`kind get kubeconfig` failed: {kubeconfig.strip()[-300:]}")
        try:
            connection = parse_kubeconfig(kubeconfig)
        except KubeconfigError as exc:
            raise DriverError(f"kind returned an unusable kubeconfig: {exc}") from None
        return Provisioning(ready=True, connection=connection, infrastructure=f"kind/{name}")

    async def delete(self, cluster: cluster_pb2.Cluster) -> bool:
        code, output = await self._kind("delete", "cluster", "--name", provider_name(cluster))
        if code != 0:
            raise DriverError(f"`kind delete cluster` failed: {output.strip()[-300:]}")
        return True

    async def connect(self, cluster: cluster_pb2.Cluster) -> Connection | None:
        return await self._credentials.get(cluster.name, cluster.uid)
