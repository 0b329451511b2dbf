"""One simulated cluster: its storage, API semantics, controllers, credentials, listening socket and
faults, plus the HTTP entry point that applies auth, faults and discovery before the REST API."""

from __future__ import annotations

import asyncio
import base64
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from threeport_kubesim import discovery, errors
from threeport_kubesim.apiserver import ApiServer, WriteOptions
from threeport_kubesim.controllers.crds import CRDS, CrdController
from threeport_kubesim.controllers.daemonsets import DAEMONSETS, DaemonSetController
from threeport_kubesim.controllers.deployments import DEPLOYMENTS, DeploymentController
from threeport_kubesim.controllers.events import EventRecorder
from threeport_kubesim.controllers.gc import GarbageCollector
from threeport_kubesim.controllers.jobs import JOBS, JobController
from threeport_kubesim.controllers.namespaces import NamespaceController
from threeport_kubesim.controllers.pods import PodLifecycle
from threeport_kubesim.controllers.replicasets import REPLICASETS, ReplicaSetController
from threeport_kubesim.controllers.runtime import NODES, PODS, ControllerManager, SimContext, Timing
from threeport_kubesim.controllers.services import (
    INGRESSES,
    PVCS,
    SERVICES,
    LoadBalancerController,
    VolumeBinder,
)
from threeport_kubesim.controllers.statefulsets import STATEFULSETS, StatefulSetController
from threeport_kubesim.errors import ApiError
from threeport_kubesim.faults import FaultState
from threeport_kubesim.httpserver import HttpServer, Request, Response, StreamResponse
from threeport_kubesim.kubeconfig import write_kubeconfig
from threeport_kubesim.resources import ResourceRegistry
from threeport_kubesim.restapi import RestApi, error_response, json_response
from threeport_kubesim.store import ObjectStore, dumps
from threeport_kubesim.tlsutil import TlsMaterial, make_tls_material, server_context

PUBLIC_PATHS = {"/version", "/healthz", "/livez", "/readyz"}
BOOTSTRAP = WriteOptions(manager="kube-apiserver", track_fields=False)
_METHOD_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}


@dataclass(slots=True)
class ClusterOptions:
    name: str
    port: int = 0
    tls: bool = False
    nodes: int = 1
    token: str = ""
    speed: float = 1.0
    max_events: int = 1000
    history_size: int = 2000
    bookmark_interval: float = 60.0
    tls_material: TlsMaterial | None = None


def _node(name: str, index: int, control_plane: bool) -> dict[str, Any]:
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": "amd64",
    }
    if control_plane:
        labels["node-role.kubernetes.io/control-plane"] = ""
    resources = {"cpu": "4", "memory": "16384Mi", "pods": "110", "ephemeral-storage": "100Gi"}
    conditions = [
        {"type": t, "status": "False", "reason": f"KubeletHas{r}", "message": m}
        for t, r, m in (
            ("MemoryPressure", "SufficientMemory", "kubelet has sufficient memory available"),
            ("DiskPressure", "NoDiskPressure", "kubelet has no disk pressure"),
            ("PIDPressure", "SufficientPID", "kubelet has sufficient PID available"),
        )
    ]
    conditions.append(
        {
            "type": "Ready",
            "status": "True",
            "reason": "KubeletReady",
            "message": "kubelet is posting ready status",
        }
    )
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "podCIDR": f"10.244.{index}.0/24",
            "podCIDRs": [f"10.244.{index}.0/24"],
            "providerID": f"kubesim://{name}",
        },
        "status": {
            "capacity": resources,
            "allocatable": dict(resources),
            "conditions": conditions,
            "addresses": [
                {"type": "InternalIP", "address": f"172.18.0.{index + 2}"},
                {"type": "Hostname", "address": name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": f"boot-{name}",
                "containerRuntimeVersion": "containerd://1.7.24",
                "kernelVersion": "6.8.0",
                "kubeProxyVersion": "v1.32.0",
                "kubeletVersion": "v1.32.0",
                "machineID": f"machine-{name}",
                "operatingSystem": "linux",
                "osImage": "kubesim",
                "systemUUID": f"uuid-{name}",
            },
        },
    }


class SimCluster:
    def __init__(self, options: ClusterOptions, kubeconfig_dir: Path) -> None:
        self.options = options
        self.name = options.name
        self.token = options.token or secrets.token_urlsafe(32)
        self.tls_material = options.tls_material or (make_tls_material(options.name) if options.tls else None)
        self.kubeconfig_dir = kubeconfig_dir
        self.store = ObjectStore(history_size=options.history_size)
        self.registry = ResourceRegistry()
        self.api = ApiServer(self.store, self.registry)
        timing = Timing(speed=options.speed)
        self.rest = RestApi(self.api, bookmark_interval=options.bookmark_interval,
                            log_interval=timing.scaled(timing.log_interval))
        self.faults = FaultState()
        self.ctx = SimContext(api=self.api, timing=timing, faults=self.faults)
        self.ctx.recorder = EventRecorder(self.api, max_events=options.max_events)
        self.controllers = ControllerManager(self.ctx)
        self._register_controllers()
        ssl_context = server_context(self.tls_material) if self.tls_material else None
        self.server = HttpServer(self.handle, port=options.port, ssl_context=ssl_context)
        self.kubeconfig_path: Path | None = None
        self.unreachable = False

    def _register_controllers(self) -> None:
        ctx, manager = self.ctx, self.controllers
        manager.register(PodLifecycle(ctx), PODS)
        manager.register(ReplicaSetController(ctx), REPLICASETS, PODS)
        manager.register(DeploymentController(ctx), DEPLOYMENTS, REPLICASETS)
        manager.register(StatefulSetController(ctx), STATEFULSETS, PODS)
        manager.register(DaemonSetController(ctx), DAEMONSETS, PODS, NODES)
        manager.register(JobController(ctx), JOBS, PODS)
        manager.register(LoadBalancerController(ctx), SERVICES, INGRESSES)
        manager.register(VolumeBinder(ctx), PVCS)
        manager.register(GarbageCollector(ctx), *[r.key for r in self.registry.all()])
        manager.register(CrdController(ctx), CRDS)
        namespace_controller = NamespaceController(ctx)
        manager.register(
            namespace_controller,
            *{r.key for r in self.registry.all() if r.namespaced or r.key == ("", "namespaces")},
        )

    @property
    def scheme(self) -> str:
        return "https" if self.tls_material else "http"

    @property
    def server_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.port}"

    def bootstrap(self) -> None:
        """Objects every fresh cluster has: system namespaces, nodes and the kubernetes Service."""
        namespace = self.registry.lookup("", "v1", "namespaces")
        node = self.registry.lookup("", "v1", "nodes")
        service = self.registry.lookup("", "v1", "services")
        assert namespace is not None and node is not None and service is not None
        for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.api.create(namespace, "", {"metadata": {"name": name}}, BOOTSTRAP)
        for index in range(max(1, self.options.nodes)):
            name = f"{self.name}-control-plane" if index == 0 else f"{self.name}-worker{'' if index == 1 else index}"
            self.api.create(node, "", _node(name, index, index == 0), BOOTSTRAP)
        self.api.create(
            service,
            "default",
            {
                "metadata": {
                    "name": "kubernetes",
                    "labels": {"component": "apiserver", "provider": "kubernetes"},
                },
                "spec": {
                    "clusterIP": "10.96.0.1",
                    "ports": [{"name": "https", "port": 443, "targetPort": 6443}],
                },
            },
            BOOTSTRAP,
        )

    async def start(self) -> None:
        self.controllers.start()
        await self.server.start()
        self.options.port = self.server.port
        if self.tls_material is None:
            # kubectl never sends credentials over plain http, so a kubeconfig for this cluster
            # could not work as written; programmatic clients use the server URL and token.
            return
        self.kubeconfig_path = write_kubeconfig(
            self.kubeconfig_dir,
            self.name,
            self.server_url,
            self.token,
            self.tls_material.ca_cert_pem,
        )

    async def stop(self) -> None:
        await self.server.stop()
        await self.controllers.stop()
        for watchers in self.store.watchers.values():
            for watcher in watchers:
                watcher.closed = True
                watcher.wakeup.set()

    async def set_unreachable(self, unreachable: bool) -> None:
        self.unreachable = unreachable
        if unreachable:
            await self.server.stop()
        else:
            await self.server.start()

    def info(self) -> dict[str, Any]:
        ca_data = base64.b64encode(self.tls_material.ca_cert_pem.encode()).decode() if self.tls_material else None
        return {
            "name": self.name,
            "server": self.server_url,
            "port": self.server.port,
            "token": self.token,
            "tls": self.tls_material is not None,
            "ca_data": ca_data,
            "kubeconfig_path": str(self.kubeconfig_path) if self.kubeconfig_path else None,
            "nodes": self.store.count(NODES),
            "unreachable": self.unreachable,
            "speed": self.options.speed,
        }

    # ----- HTTP entry point --------------------------------------------------------------------

    async def handle(self, request: Request) -> Response | StreamResponse:
        if self.faults.latency_seconds > 0:
            await asyncio.sleep(self.faults.latency_seconds)
        path = request.path.rstrip("/") or "/"
        if path in PUBLIC_PATHS:
            return self._public(path)
        if request.header("authorization") != f"Bearer {self.token}":
            return error_response(errors.unauthorized())
        failure = self._injected_failure(request)
        if failure is not None:
            return error_response(failure)
        found = self._discovery(request, path)
        if found is not None:
            return found
        return await self.rest.handle(request)

    def _public(self, path: str) -> Response:
        if path == "/version":
            return json_response(200, discovery.KUBE_VERSION)
        return Response(200, b"ok", content_type="text/plain")

    def _injected_failure(self, request: Request) -> ApiError | None:
        if not self.faults.fail_rules:
            return None
        target = self.rest.resolve(request.path)
        resource = target.rtype.resource if target else ""
        namespace = (target.namespace or "") if target else ""
        if request.method == "GET":
            watching = request.param("watch") in ("true", "1") or bool(target and target.legacy_watch)
            verb = "watch" if watching else ("get" if target and target.name else "list")
        elif request.method == "DELETE":
            verb = "delete" if target and target.name else "deletecollection"
        else:
            verb = _METHOD_VERBS.get(request.method, request.method.lower())
        return self.faults.take_failure(verb, resource, namespace)

    def _discovery(self, request: Request, path: str) -> Response | None:
        registry = self.registry
        parts = [p for p in path.split("/") if p]
        document: dict[str, Any] | None = None
        if path == "/api":
            document = discovery.core_versions(f"127.0.0.1:{self.server.port}")
        elif path == "/apis":
            document = discovery.group_list(registry)
        elif path == "/api/v1":
            document = discovery.resource_list(registry, "", "v1")
        elif parts[:1] == ["apis"] and len(parts) == 2:
            document = discovery.group(registry, parts[1])
        elif parts[:1] == ["apis"] and len(parts) == 3:
            document = discovery.resource_list(registry, parts[1], parts[2])
        elif path == "/openapi/v2":
            if "protobuf" in request.header("accept") and "json" not in request.header("accept"):
                return Response(406, b"", content_type="text/plain")
            document = discovery.openapi_v2(registry)
        elif path == "/openapi/v3":
            document = discovery.openapi_v3_index(registry)
        elif path.startswith("/openapi/v3/"):
            document = discovery.openapi_v3_document(registry, path[len("/openapi/v3/") :])
        else:
            return None
        if document is None:
            return error_response(ApiError(404, "NotFound", "the server could not find the requested resource"))
        return Response(200, dumps(document))

    # ----- snapshot ----------------------------------------------------------------------------

    def kick_controllers(self) -> None:
        """After loading a snapshot, let every controller look at every object once."""
        for group_resource, bucket in list(self.store.buckets.items()):
            for _, stored in list(bucket.items()):
                obj = stored.decode()
                for listener in self.store.listeners:
                    listener(group_resource, "MODIFIED", obj, None)
