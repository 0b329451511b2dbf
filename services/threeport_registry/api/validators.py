"""Adapts the domain's validation rules to the repository's ``validate(final_message)`` hook.

The repository calls the hook on the resource exactly as it would be stored (after an update
mask is applied), so every rule sees the whole object; nothing is written if it raises.
"""

from __future__ import annotations

from collections.abc import Callable

from threeport.registry.v1alpha1 import (
    addon_profile_pb2,
    application_pb2,
    cluster_profile_pb2,
    environment_pb2,
    service_class_pb2,
)
from threeport_registry.domain.application import validate_application
from threeport_registry.domain.dependencies import ProvidedTypes
from threeport_registry.domain.environment import validate_environment
from threeport_registry.domain.profiles import (
    validate_addon_profile,
    validate_cluster_profile,
    validate_service_class,
)
from threeport_runtime.errors import FieldViolation, InvalidArgument


def _raise_if_any(violations: list[FieldViolation]) -> None:
    if violations:
        raise InvalidArgument.for_fields(violations)


def application_checker(provided: Callable[[], ProvidedTypes]) -> Callable[[application_pb2.Application], None]:
    """The Application rules, also accepting the types the addon catalog provides right now."""

    def check(application: application_pb2.Application) -> None:
        _raise_if_any(validate_application(application, provided=provided()))

    return check


def check_environment(environment: environment_pb2.Environment) -> None:
    _raise_if_any(validate_environment(environment))


def check_cluster_profile(profile: cluster_profile_pb2.ClusterProfile) -> None:
    _raise_if_any(validate_cluster_profile(profile))


def check_service_class(service_class: service_class_pb2.ServiceClass) -> None:
    _raise_if_any(validate_service_class(service_class))


def addon_profile_checker(
    provided: Callable[[], ProvidedTypes],
) -> Callable[[addon_profile_pb2.AddonProfile], None]:
    """The AddonProfile rules; its type may also be one the addon catalog provides right now."""

    def check(profile: addon_profile_pb2.AddonProfile) -> None:
        _raise_if_any(validate_addon_profile(profile, provided=list(provided())))

    return check
