"""Which ServiceClass provides a dependency of a given type and class in an environment.

1. The effective class: the environment's override for the type (``spec.service_classes``)
   if any, else the class the application asked for, else ``default``.
2. Candidates: ServiceClasses of that type whose class is the effective class or ``*``, whose
   scope fits (each set scope field must equal the environment's project, name or type; an
   unspecified environment type counts as development), and that are not being deleted.
3. The most specific wins, compared in this order:

   a. scope level: ``environment`` > ``environmentType`` > ``project`` > ``default``
      (the level is that of the most specific scope field set);
   b. an exact class beats ``*``;
   c. more scope fields set beats fewer (environment type + project beats environment type);
   d. user-defined beats a system default;
   e. the smaller resource name (so that the choice never depends on list order).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from threeport.registry.v1alpha1 import environment_pb2, service_class_pb2
from threeport_registry.domain.dependencies import DEFAULT_CLASS
from threeport_registry.domain.profiles import ANY_CLASS, service_class_class

_LEVELS = ("default", "project", "environmentType", "environment")


@dataclass(frozen=True)
class Resolution:
    service_class: service_class_pb2.ServiceClass
    # `environment`, `environmentType`, `project` or `default`.
    matched_by: str
    effective_class: str


def effective_class(
    environment: environment_pb2.Environment, dependency_type: str, requested_class: str
) -> str:
    """The class after the environment's override."""
    return environment.spec.service_classes.get(dependency_type) or requested_class or DEFAULT_CLASS


def resolve_service_class(
    service_classes: Iterable[service_class_pb2.ServiceClass],
    *,
    project: str,
    environment: environment_pb2.Environment,
    dependency_type: str,
    requested_class: str,
) -> Resolution | None:
    """The ServiceClass for the dependency, or None when nothing matches.

    ``project`` is ``projects/{project}``; ``environment.name`` is the environment's resource name.
    """
    wanted = effective_class(environment, dependency_type, requested_class)
    environment_type = environment.spec.type or environment_pb2.ENVIRONMENT_TYPE_DEVELOPMENT
    best: tuple[tuple[int, int, int, int], str, service_class_pb2.ServiceClass] | None = None
    for candidate in service_classes:
        spec, scope = candidate.spec, candidate.spec.scope
        class_name = service_class_class(spec)
        if (
            candidate.HasField("delete_time")
            or spec.type != dependency_type
            or class_name not in (wanted, ANY_CLASS)
            or (scope.project and scope.project != project)
            or (scope.environment and scope.environment != environment.name)
            or (scope.environment_type and scope.environment_type != environment_type)
        ):
            continue
        level = _level(scope)
        fields_set = sum(bool(f) for f in (scope.project, scope.environment, scope.environment_type))
        rank = (level, int(class_name != ANY_CLASS), fields_set, int(not candidate.status.system_default))
        # Higher rank wins; on equal rank the smaller name wins.
        if best is None or rank > best[0] or (rank == best[0] and candidate.name < best[1]):
            best = (rank, candidate.name, candidate)
    if best is None:
        return None
    return Resolution(best[2], _LEVELS[best[0][0]], wanted)


def _level(scope: service_class_pb2.ServiceClassScope) -> int:
    if scope.environment:
        return 3
    if scope.environment_type:
        return 2
    if scope.project:
        return 1
    return 0
