"""The built-in profiles, so that an application with no profiles set still deploys.

- ClusterProfiles ``standard`` and ``dev`` use provider ``sim`` (the project's Kubernetes
  emulator), so a laptop demo works without a cloud account. Operators who want real clusters
  create an ``eks`` profile and point environments (or ``standard``, by updating it) at it.
- ServiceClasses cover every profiled type with class ``*``: managed types get a default
  (``local``, an in-cluster StatefulSet or Secret, used by development and staging) and a
  production one (``aws-rds``, ``aws-elasticache``, ``aws-s3``, ``aws-secretsmanager``);
  cluster-service types name the addon that provides them: ingress → ``ingress-nginx``,
  tls → ``cert-manager``, dns → ``external-dns``, metrics → ``prometheus``,
  logging → ``fluent-bit``, secrets → ``external-secrets``.
- AddonProfiles map the same cluster-service types to ``addons/{addon}``.

Every default has ``status.system_default = true``; user-defined ones win over defaults of the
same specificity (see ``resolution``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, TypeAlias

from google.protobuf import struct_pb2

from threeport.registry.v1alpha1 import (
    addon_profile_pb2,
    cluster_profile_pb2,
    environment_pb2,
    service_class_pb2,
)

DEFAULT_CLUSTER_PROFILE = "standard"
EnvironmentTypeValue: TypeAlias = environment_pb2.EnvironmentType.ValueType

_PRODUCTION_IMPLEMENTATIONS: Mapping[str, tuple[str, dict[str, Any]]] = MappingProxyType(
    {
        "postgres": ("aws-rds", {"engine": "postgres", "instanceClass": "db.t4g.medium", "storageGb": 20}),
        "mysql": ("aws-rds", {"engine": "mysql", "instanceClass": "db.t4g.medium", "storageGb": 20}),
        "redis": ("aws-elasticache", {"nodeType": "cache.t4g.small"}),
        "bucket": ("aws-s3", {}),
        "secret": ("aws-secretsmanager", {}),
    }
)
CLUSTER_SERVICE_ADDONS = MappingProxyType(
    {
        "ingress": "ingress-nginx",
        "tls": "cert-manager",
        "dns": "external-dns",
        "metrics": "prometheus",
        "logging": "fluent-bit",
        "secrets": "external-secrets",
    }
)


def default_cluster_profiles() -> list[cluster_profile_pb2.ClusterProfile]:
    """``standard`` (a small HA-less cluster, 2-5 nodes) and ``dev`` (one small node)."""
    return [
        _cluster_profile(
            "standard",
            "medium",
            2,
            5,
            "General purpose clusters (simulated until an operator switches the provider to eks).",
        ),
        _cluster_profile("dev", "small", 1, 1, "One small node for development."),
    ]


def default_service_classes() -> list[service_class_pb2.ServiceClass]:
    """Class ``*`` for every managed and cluster-service type."""
    classes: list[service_class_pb2.ServiceClass] = []
    for type_name, (implementation, parameters) in _PRODUCTION_IMPLEMENTATIONS.items():
        classes.append(_service_class(f"{type_name}-default", type_name, "local", {}))
        classes.append(
            _service_class(
                f"{type_name}-production",
                type_name,
                implementation,
                parameters,
                environment_type=environment_pb2.ENVIRONMENT_TYPE_PRODUCTION,
            )
        )
    for type_name, addon in CLUSTER_SERVICE_ADDONS.items():
        classes.append(_service_class(f"{type_name}-default", type_name, addon, {}))
    return classes


def default_addon_profiles() -> list[addon_profile_pb2.AddonProfile]:
    return [
        addon_profile_pb2.AddonProfile(
            name=f"addonProfiles/{type_name}-default",
            spec=addon_profile_pb2.AddonProfileSpec(type=type_name, addon=f"addons/{addon}"),
            status=addon_profile_pb2.AddonProfileStatus(system_default=True),
        )
        for type_name, addon in CLUSTER_SERVICE_ADDONS.items()
    ]


def _cluster_profile(
    profile_id: str, node_size: str, min_nodes: int, max_nodes: int, description: str
) -> cluster_profile_pb2.ClusterProfile:
    return cluster_profile_pb2.ClusterProfile(
        name=f"clusterProfiles/{profile_id}",
        annotations={"threeport.io/description": description},
        spec=cluster_profile_pb2.ClusterProfileSpec(
            provider="sim",
            location="NorthAmerica:NewYork",
            node_size=node_size,
            min_nodes=min_nodes,
            max_nodes=max_nodes,
        ),
        status=cluster_profile_pb2.ClusterProfileStatus(system_default=True),
    )


def _service_class(
    class_id: str,
    type_name: str,
    implementation: str,
    parameters: dict[str, Any],
    *,
    environment_type: EnvironmentTypeValue = environment_pb2.ENVIRONMENT_TYPE_UNSPECIFIED,
) -> service_class_pb2.ServiceClass:
    struct = struct_pb2.Struct()
    struct.update(parameters)
    spec = service_class_pb2.ServiceClassSpec(
        type=type_name,
        implementation=implementation,
        parameters=struct,
        scope=service_class_pb2.ServiceClassScope(environment_type=environment_type),
    )
    setattr(spec, "class", "*")
    return service_class_pb2.ServiceClass(
        name=f"serviceClasses/{class_id}",
        spec=spec,
        status=service_class_pb2.ServiceClassStatus(system_default=True),
    )
