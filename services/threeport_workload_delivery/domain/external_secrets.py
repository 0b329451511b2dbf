"""``secret`` dependencies synced by external-secrets (issue 12).

When the registry resolves a ``secret`` dependency to the implementation ``external-secrets``
(a ServiceClass), its values never pass through Threeport: delivery claims the ``secrets``
cluster service from the addon-manager (the external-secrets addon and its ClusterSecretStore
for AWS Secrets Manager) instead of a managed secret from the infra-provider, and renders an
ExternalSecret that syncs the named AWS secret (``params.name``, default
``<project>/<environment>/<application>/<dependency>``; one JSON property per key in
``params.keys``) into a Kubernetes Secret in the app's namespace. Env values referencing those
keys read that Secret: a value that is one reference becomes a ``secretKeyRef``; a value mixing
text and references gets one hidden variable per key and Kubernetes' ``$(VAR)`` expansion, so
the secret is never written into a ConfigMap or the pod spec.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from google.protobuf import json_format, struct_pb2

from threeport.registry.v1alpha1 import application_pb2
from threeport_model import references
from threeport_workload_delivery.domain import names

Manifest = dict[str, Any]
IMPLEMENTATION = "external-secrets"
# The cluster-service type the external-secrets addon provides (the type of the AddonClaim).
CLAIM_TYPE = "secrets"
STORE_OUTPUT = "clusterSecretStore"
REFRESH_INTERVAL = "1h"


class Published(Protocol):
    """What ``rendering.DependencyOutputs`` offers this module (its claim type and values)."""

    @property
    def type(self) -> str: ...

    @property
    def values(self) -> Mapping[str, str]: ...


class SyncedSecretError(ValueError):
    """An env value that cannot read a synced secret safely."""


def is_synced(dependency_type: str, implementation: str) -> bool:
    """Whether a dependency is a secret external-secrets syncs (instead of a managed one)."""
    return dependency_type == "secret" and implementation == IMPLEMENTATION


def remote_name(params: Mapping[str, Any], *, project: str, environment: str, application: str,
                dependency: str) -> str:
    """The AWS secret to sync: ``params.name``, else ``<project>/<environment>/<app>/<dependency>``."""
    return str(params.get("name") or f"{project}/{environment}/{application}/{dependency}")


def claim_params(dep: application_pb2.Dependency, *, project: str, environment: str, application: str,
                 dependency: str) -> struct_pb2.Struct:
    """The AddonClaim's params: the remote secret's name and the keys to sync."""
    params = json_format.MessageToDict(dep.params)
    result = struct_pb2.Struct()
    result.update({
        "name": remote_name(params, project=project, environment=environment, application=application,
                            dependency=dependency),
        "keys": [str(key) for key in params.get("keys", [])],
    })
    return result


def synced_dependencies(spec: application_pb2.ApplicationSpec, published: Mapping[str, Published]) -> set[str]:
    """The ``secret`` dependencies claimed from external-secrets whose claims are bound."""
    return {
        name for name, dep in spec.dependencies.items()
        if dep.type == "secret" and (found := published.get(name)) is not None and found.type == CLAIM_TYPE
    }


def external_secrets(
    spec: application_pb2.ApplicationSpec,
    *,
    project: str,
    environment: str,
    application: str,
    namespace: str,
    labels: Mapping[str, str],
    published: Mapping[str, Published],
) -> list[Manifest]:
    """One ExternalSecret per synced dependency, into a Secret named ``<app>-<dependency>``."""
    found: list[Manifest] = []
    for dependency in sorted(synced_dependencies(spec, published)):
        params = json_format.MessageToDict(spec.dependencies[dependency].params)
        remote = remote_name(params, project=project, environment=environment, application=application,
                             dependency=dependency)
        target = names.object_name(application, dependency)
        found.append({
            "apiVersion": "external-secrets.io/v1beta1",
            "kind": "ExternalSecret",
            "metadata": {"name": target, "namespace": namespace, "labels": dict(labels)},
            "spec": {
                "refreshInterval": REFRESH_INTERVAL,
                "secretStoreRef": {"kind": "ClusterSecretStore",
                                   "name": published[dependency].values.get(STORE_OUTPUT, "")},
                "target": {"name": target, "creationPolicy": "Owner"},
                "data": [{"secretKey": str(key), "remoteRef": {"key": remote, "property": str(key)}}
                         for key in params.get("keys", [])],
            },
        })
    return found


Resolve = Callable[[references.OutputReference], tuple[str, bool]]


def split_synced_env(
    component: str,
    env: Mapping[str, str],
    spec: application_pb2.ApplicationSpec,
    application: str,
    published: Mapping[str, Published],
    resolve: Resolve,
) -> tuple[dict[str, str], list[Manifest]]:
    """``env`` without the values that read synced secrets, and those values as container env
    entries. ``resolve(ref) -> (value, secret)`` resolves the other references of a mixed value;
    a secret one is refused there (it would be written into the pod spec)."""
    synced = synced_dependencies(spec, published)
    remaining: dict[str, str] = {}
    helpers: dict[str, Manifest] = {}
    entries: list[Manifest] = []
    for key in sorted(env):
        value = env[key]
        refs = references.scan(value).references
        if not any(ref.dependency in synced for ref in refs):
            remaining[key] = value
            continue
        if len(refs) == 1 and refs[0].start == 0 and refs[0].end == len(value):
            entries.append({"name": key, "valueFrom": _key_ref(application, refs[0])})
            continue

        def expand(ref: references.OutputReference, key: str = key) -> str:
            if ref.dependency in synced:
                helper = hidden_variable(ref.dependency, ref.output)
                helpers[helper] = {"name": helper, "valueFrom": _key_ref(application, ref)}
                return f"$({helper})"
            text, secret = resolve(ref)
            if secret:
                raise SyncedSecretError(
                    f"component {component}: env {key} mixes {ref}, a secret output, with a synced secret; "
                    "split it into two variables")
            return text.replace("$(", "$$(")

        # A literal "$(" would be expanded by Kubernetes too: "$$(" keeps it literal.
        entries.append({"name": key, "value": references.substitute(value.replace("$(", "$$("), expand)})
    # Hidden variables first: Kubernetes expands $(VAR) only from variables defined before.
    return remaining, [helpers[name] for name in sorted(helpers)] + entries


def _key_ref(application: str, ref: references.OutputReference) -> Manifest:
    return {"secretKeyRef": {"name": names.object_name(application, ref.dependency), "key": ref.output}}


def hidden_variable(dependency: str, key: str) -> str:
    """The variable holding one synced key for ``$(...)`` expansion, e.g. ``TP_SECRET_STRIPE_API_KEY``."""
    return f"TP_SECRET_{dependency}_{key}".upper().replace("-", "_")
