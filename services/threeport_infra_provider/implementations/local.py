"""``local``: a managed service as a StatefulSet + Service + PVC + Secret in the consuming
deployment's cluster and namespace, for development environments (DESIGN §5). Applied with the
runtime's Kubernetes layer (server-side apply, field manager ``threeport``)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from threeport.infra.v1alpha1 import managed_service_pb2
from threeport_infra_provider.domain import outputs
from threeport_infra_provider.domain.names import last_segment
from threeport_infra_provider.domain.services import parameters
from threeport_infra_provider.implementations.base import (
    CREATE,
    MODIFY,
    REFUSED,
    UNCHANGED,
    CloudResource,
    Converged,
    ImplementationError,
    Inventory,
    PlannedResource,
)
from threeport_runtime.kube.errors import KubeError
from threeport_runtime.kube.pool import KubePool
from threeport_runtime.kube.readiness import readiness

MANAGED_BY = {"app.kubernetes.io/managed-by": "threeport"}


@dataclass(frozen=True)
class Engine:
    image: str
    port: int
    data_path: str
    env: dict[str, str]  # variable -> key of the generated Secret
    args: tuple[str, ...] = ()


ENGINES = {
    "postgres": Engine(
        "postgres:16",
        5432,
        "/var/lib/postgresql/data",
        {"POSTGRES_PASSWORD": "password", "POSTGRES_USER": "username", "POSTGRES_DB": "database"},
    ),
    "mysql": Engine(
        "mysql:8.4",
        3306,
        "/var/lib/mysql",
        {
            "MYSQL_ROOT_PASSWORD": "password",
            "MYSQL_PASSWORD": "password",
            "MYSQL_USER": "username",
            "MYSQL_DATABASE": "database",
        },
    ),
    "redis": Engine(
        "redis:7",
        6379,
        "/data",
        {"REDIS_PASSWORD": "password"},
        ("sh", "-c", 'exec redis-server --requirepass "$REDIS_PASSWORD" --appendonly yes'),
    ),
    "bucket": Engine(
        "minio/minio:RELEASE.2024-10-13T13-34-11Z",
        9000,
        "/data",
        {"MINIO_ROOT_USER": "access_key_id", "MINIO_ROOT_PASSWORD": "password"},
        ("server", "/data"),
    ),
}
DEFAULT_DATABASE = "app"
DEFAULT_USERNAME = "app"


def object_name(service: managed_service_pb2.ManagedService) -> str:
    return f"tp-{last_segment(service.name)}"[:52]


class LocalImplementation:
    name = "local"

    def __init__(self, pool: KubePool):
        self._pool = pool

    async def converge(
        self, service: managed_service_pb2.ManagedService, secrets: dict[str, str], record: Inventory
    ) -> Converged:
        spec = service.spec
        name, namespace = object_name(service), spec.namespace
        labels = MANAGED_BY | {"threeport.io/managed-service": last_segment(service.name)}
        data = self._secret_data(service, secrets)
        # The namespace is the consuming deployment's: it creates it (and owns it) before it claims
        # anything, so it is never created here (another's namespace is never taken over).
        manifests = _manifests(service, labels, data)
        try:
            client = await self._pool.client(spec.cluster)
            if await client.get({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}) is None:
                return Converged(False, f"waiting for namespace {namespace} in {spec.cluster} (its deployment "
                                        "creates it)")
            inventory = []
            applied: dict[str, Any] = {}
            for manifest in manifests:
                kind = f"{manifest['apiVersion']}/{manifest['kind']}"
                await record(CloudResource(type=kind, id=f"{namespace}/{name}", state="creating"))
                applied[manifest["kind"]] = await client.apply(manifest)
                inventory.append(CloudResource(type=kind, id=f"{namespace}/{name}", state="applied"))
        except KubeError as error:
            raise ImplementationError(f"cluster {spec.cluster}: {error}") from None
        host = f"{name}.{namespace}.svc.cluster.local"
        found = _outputs(spec.type, host, data)
        if spec.type == "secret":
            return Converged(True, f"secret {namespace}/{name} is ready", found, inventory)
        state = applied.get("StatefulSet") or {}
        verdict = readiness(state)
        for entry in inventory:
            if entry.type == "apps/v1/StatefulSet":
                entry.state = "ready" if verdict.ready else "starting"
        message = f"{spec.type} runs in {spec.cluster} as {namespace}/{name}"
        return Converged(verdict.ready, message if verdict.ready else verdict.message or "starting", found, inventory)

    async def plan(
        self, service: managed_service_pb2.ManagedService, *, current: managed_service_pb2.ManagedService | None
    ) -> list[PlannedResource]:
        """The objects ``converge`` would apply, from the same manifests (without data: nothing
        is generated); for an existing service, compared with the manifests of ``current``."""
        labels = MANAGED_BY | {"threeport.io/managed-service": last_segment(service.name)}
        where = service.spec.cluster or "the cluster the deployment is placed on"
        before = {m["kind"]: m for m in _manifests(current, labels, {})} if current is not None else {}
        planned = []
        for manifest in _manifests(service, labels, {}):
            kind = f"{manifest['apiVersion']}/{manifest['kind']}"
            namespace, name = manifest["metadata"]["namespace"], manifest["metadata"]["name"]
            was = before.get(manifest["kind"])
            action = CREATE if was is None else UNCHANGED if was == manifest else MODIFY
            description = _described(manifest, where)
            templates = manifest.get("spec", {}).get("volumeClaimTemplates", [])
            if was is not None and templates != was.get("spec", {}).get("volumeClaimTemplates", []):
                # Kubernetes forbids changing a StatefulSet's volume claim templates.
                action, description = REFUSED, (
                    "its data volume cannot be resized through the StatefulSet (Kubernetes forbids changing "
                    "volumeClaimTemplates): keep storageGb, or use a new dependency name and move the data"
                )
            planned.append(PlannedResource(type=kind, id=f"{namespace}/{name}", action=action, description=description))
            for template in templates:
                size = template["spec"]["resources"]["requests"]["storage"]
                planned.append(PlannedResource(
                    type="v1/PersistentVolumeClaim",
                    id=f"{namespace}/{template['metadata']['name']}-{name}-0",
                    action=CREATE if was is None else UNCHANGED,
                    description=f"{size} of data",
                ))
        return planned

    @staticmethod
    def _secret_data(service: managed_service_pb2.ManagedService, secrets: dict[str, str]) -> dict[str, str]:
        params = parameters(service.spec.parameters)
        if service.spec.type == "secret":
            return {key: secrets.get(f"key:{key}", "") for key in params.get("keys", [])}
        return {
            "password": secrets["password"],
            "username": str(params.get("username", DEFAULT_USERNAME)),
            "database": str(params.get("database", DEFAULT_DATABASE)),
            "access_key_id": f"tp{last_segment(service.name)}"[:20],
        }

    async def delete(self, service: managed_service_pb2.ManagedService, *, retain: bool) -> bool:
        spec = service.spec
        name, namespace = object_name(service), spec.namespace
        refs: list[dict[str, Any]] = [
            {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name, "namespace": namespace}},
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace}},
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace}},
        ]
        if not retain:
            # The data volume goes too (a StatefulSet leaves its PVCs behind on purpose).
            refs.append(
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {"name": f"data-{name}-0", "namespace": namespace},
                }
            )
        try:
            client = await self._pool.client(spec.cluster)
            for ref in refs:
                await client.delete(ref)
        except KubeError as error:
            raise ImplementationError(f"cluster {spec.cluster}: {error}") from None
        return True


def _manifests(
    service: managed_service_pb2.ManagedService, labels: dict[str, str], data: dict[str, str]
) -> list[dict[str, Any]]:
    """The service's Secret, and for an engine its Service and StatefulSet (what is applied)."""
    spec = service.spec
    name, namespace = object_name(service), spec.namespace
    manifests = [_secret(name, namespace, labels, data)]
    if spec.type in ENGINES:
        manifests += [
            _service(name, namespace, labels, ENGINES[spec.type]),
            _stateful_set(name, namespace, labels, ENGINES[spec.type], parameters(spec.parameters)),
        ]
    return manifests


def _described(manifest: dict[str, Any], where: str) -> str:
    kind = manifest["kind"]
    if kind == "Secret":
        return "generated credentials"
    if kind == "Service":
        return f"port {manifest['spec']['ports'][0]['port']}"
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    return f"1 replica of {container['image']} in {where}"


def _outputs(type_: str, host: str, data: dict[str, str]) -> outputs.Outputs:
    if type_ == "secret":
        return outputs.secret(keys=data, name=host.split(".", 1)[0])
    engine = ENGINES[type_]
    if type_ == "redis":
        return outputs.redis(host=host, port=engine.port, password=data["password"])
    if type_ == "bucket":
        return outputs.bucket(
            name=data["database"],
            region="local",
            endpoint=f"http://{host}:{engine.port}",
            access_key_id=data["access_key_id"],
            secret_access_key=data["password"],
        )
    return outputs.database(
        type_,
        host=host,
        port=engine.port,
        database=data["database"],
        username=data["username"],
        password=data["password"],
    )


def _secret(name: str, namespace: str, labels: dict[str, str], data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


def _service(name: str, namespace: str, labels: dict[str, str], engine: Engine) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "selector": {"threeport.io/managed-service": labels["threeport.io/managed-service"]},
            "ports": [{"name": "main", "port": engine.port, "targetPort": engine.port}],
        },
    }


def _stateful_set(
    name: str, namespace: str, labels: dict[str, str], engine: Engine, params: dict[str, Any]
) -> dict[str, Any]:
    env = [
        {"name": variable, "valueFrom": {"secretKeyRef": {"name": name, "key": key}}}
        for variable, key in engine.env.items()
    ]
    container: dict[str, Any] = {
        "name": "main",
        "image": str(params.get("image", engine.image)),
        "env": env,
        "ports": [{"name": "main", "containerPort": engine.port}],
        "volumeMounts": [{"name": "data", "mountPath": engine.data_path}],
    }
    if engine.args:
        container["args" if engine.args[0] == "server" else "command"] = list(engine.args)
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "serviceName": name,
            "replicas": 1,
            "selector": {"matchLabels": {"threeport.io/managed-service": labels["threeport.io/managed-service"]}},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": f"{int(params.get('storageGb', 1))}Gi"}},
                    },
                }
            ],
        },
    }
