"""Filling in defaults before a spec is stored, so that readers never guess.

Each function returns a normalised copy and leaves its argument alone. Nothing a user wrote is
reordered or rewritten; only empty fields get their documented default:

- Application: ``replicas`` 0 → 1 (proto3 cannot tell an unset 0 from an explicit one, so 0
  always means "the default"; scaling to zero is not expressible in v1alpha1), port protocol
  → ``TCP``, dependency class → ``default``, probe ``period_seconds`` → 10,
  ``timeout_seconds`` → 1, ``failure_threshold`` → 3.
- Environment: type → development, namespace template → ``{project}-{application}-{environment}``.
- ClusterProfile: provider → ``sim``, node size → ``medium``, nodes → 1 to ``max(min, 3)``.
- Build: the commit in lowercase.
"""

from __future__ import annotations

from threeport.registry.v1alpha1 import application_pb2, build_pb2, cluster_profile_pb2, environment_pb2
from threeport_model.namespaces import DEFAULT_TEMPLATE
from threeport_registry.domain.dependencies import DEFAULT_CLASS, dependency_class

DEFAULT_REPLICAS = 1
PROBE_DEFAULTS = {"period_seconds": 10, "timeout_seconds": 1, "failure_threshold": 3}


def normalise_application(application: application_pb2.Application) -> application_pb2.Application:
    result = application_pb2.Application()
    result.CopyFrom(application)
    for component in result.spec.components.values():
        if component.replicas == 0:
            component.replicas = DEFAULT_REPLICAS
        for port in component.ports:
            port.protocol = port.protocol or "TCP"
        if component.HasField("probes"):
            for kind in ("readiness", "liveness", "startup"):
                if component.probes.HasField(kind):
                    probe = getattr(component.probes, kind)
                    for field_name, default in PROBE_DEFAULTS.items():
                        if getattr(probe, field_name) == 0:
                            setattr(probe, field_name, default)
    for dependency in result.spec.dependencies.values():
        if not dependency_class(dependency):
            setattr(dependency, "class", DEFAULT_CLASS)
    return result


def normalise_environment(environment: environment_pb2.Environment) -> environment_pb2.Environment:
    result = environment_pb2.Environment()
    result.CopyFrom(environment)
    if result.spec.type == environment_pb2.ENVIRONMENT_TYPE_UNSPECIFIED:
        result.spec.type = environment_pb2.ENVIRONMENT_TYPE_DEVELOPMENT
    result.spec.namespace_template = result.spec.namespace_template or DEFAULT_TEMPLATE
    return result


def normalise_cluster_profile(
    profile: cluster_profile_pb2.ClusterProfile,
) -> cluster_profile_pb2.ClusterProfile:
    result = cluster_profile_pb2.ClusterProfile()
    result.CopyFrom(profile)
    spec = result.spec
    spec.provider = spec.provider or "sim"
    spec.node_size = spec.node_size or "medium"
    spec.min_nodes = spec.min_nodes or 1
    spec.max_nodes = spec.max_nodes or max(spec.min_nodes, 3)
    return result


def normalise_build(build: build_pb2.Build) -> build_pb2.Build:
    result = build_pb2.Build()
    result.CopyFrom(build)
    result.spec.commit = result.spec.commit.lower()
    return result
