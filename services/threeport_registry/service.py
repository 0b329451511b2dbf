"""Registers the registry: repositories, servicers, controllers (woken as ``watches`` declares)
and the built-in profiles."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from threeport.registry.v1alpha1 import (
    addon_profile_pb2,
    addon_profile_pb2_grpc,
    application_pb2,
    application_pb2_grpc,
    build_pb2,
    build_pb2_grpc,
    cluster_profile_pb2,
    cluster_profile_pb2_grpc,
    environment_pb2,
    environment_pb2_grpc,
    event_service_pb2_grpc,
    service_class_pb2,
    service_class_pb2_grpc,
)
from threeport_registry import watches
from threeport_registry.api import servicers, validators
from threeport_registry.api.cross_checks import CrossChecks
from threeport_registry.api.usage import ApplicationUsage, delivery_client
from threeport_registry.domain.defaults import (
    default_addon_profiles,
    default_cluster_profiles,
    default_service_classes,
)
from threeport_registry.reconcilers.acceptance import (
    AcceptanceReconciler,
    StatusDeriver,
    accept_as_declared,
    application_status,
    build_status,
    environment_status,
)
from threeport_registry.reconcilers.addon_types import AddonTypes
from threeport_registry.store.builds import latest_matching, latest_matching_many, newest_per_component
from threeport_registry.store.seeding import seed_system_defaults
from threeport_registry.store.tables import (
    SCHEMA,
    AddonProfileRow,
    ApplicationRow,
    BuildRow,
    ClusterProfileRow,
    EnvironmentRow,
    ServiceClassRow,
)
from threeport_runtime.db.repository import ResourceRepository
from threeport_runtime.reconcile.controller import Watch
from threeport_runtime.rpc.server import GrpcServer
from threeport_runtime.rpc.standard_methods import StandardMethods
from threeport_runtime.runtime import ServiceDefinition, ServiceRuntime

log = logging.getLogger(__name__)

SPEC_FILTERS = {
    "application": {"spec.description": "spec.description"},
    "environment": {"spec.type": "spec.type", "spec.cluster_profile": "spec.clusterProfile"},
    "service_class": {"spec.type": "spec.type", "spec.implementation": "spec.implementation"},
    "build": {"spec.component": "spec.component", "spec.branch": "spec.branch", "spec.tag": "spec.tag"},
}


async def setup(runtime: ServiceRuntime, server: GrpcServer) -> None:
    redis = runtime.redis
    builds = runtime.repository(BuildRow, build_pb2.Build, filter_fields=SPEC_FILTERS["build"])
    # An application's builds go with it (a re-created application starts without them).
    applications = runtime.repository(
        ApplicationRow, application_pb2.Application, filter_fields=SPEC_FILTERS["application"], children=[builds])
    environments = runtime.repository(
        EnvironmentRow, environment_pb2.Environment, filter_fields=SPEC_FILTERS["environment"])
    cluster_profiles = runtime.repository(ClusterProfileRow, cluster_profile_pb2.ClusterProfile)
    service_classes = runtime.repository(
        ServiceClassRow, service_class_pb2.ServiceClass, filter_fields=SPEC_FILTERS["service_class"])
    addon_profiles = runtime.repository(AddonProfileRow, addon_profile_pb2.AddonProfile)

    # The addon catalog's types (item 4 of issue 12): learned from the addon-manager when it is configured.
    addons_backend = os.environ.get("THREEPORT_BACKEND_ADDONS", "")
    addon_types = AddonTypes(runtime.service_client(addons_backend) if addons_backend else None)
    application_methods = StandardMethods(
        applications, redis, validate=validators.application_checker(addon_types.provided))
    environment_methods = StandardMethods(environments, redis, validate=validators.check_environment)
    profile_methods = StandardMethods(cluster_profiles, redis, validate=validators.check_cluster_profile)
    class_methods = StandardMethods(service_classes, redis, validate=validators.check_service_class)
    addon_methods = StandardMethods(
        addon_profiles, redis, validate=validators.addon_profile_checker(addon_types.provided))
    build_methods = StandardMethods(builds, redis)
    checks = CrossChecks(applications, cluster_profiles)
    # Deleting an application asks delivery whether deployments use it.
    usage = ApplicationUsage(applications, delivery_client(runtime.settings))

    async def latest_builds(application: str, environment: str) -> list[build_pb2.Build]:
        return [builds.to_message(row) for row in await latest_matching(runtime.db, application, environment)]

    async def latest_builds_many(asked: list[tuple[str, str]]) -> dict[tuple[str, str], list[build_pb2.Build]]:
        found = await latest_matching_many(runtime.db, asked)
        return {pair: [builds.to_message(row) for row in rows] for pair, rows in found.items()}

    registrations: list[tuple[str, Callable[[Any, Any], None], Any]] = [
        ("ApplicationService", application_pb2_grpc.add_ApplicationServiceServicer_to_server,
         servicers.ApplicationServicer(application_methods, usage, checks, addon_types.provided)),
        ("EnvironmentService", environment_pb2_grpc.add_EnvironmentServiceServicer_to_server,
         servicers.EnvironmentServicer(environment_methods, checks)),
        ("ClusterProfileService", cluster_profile_pb2_grpc.add_ClusterProfileServiceServicer_to_server,
         servicers.ClusterProfileServicer(profile_methods)),
        ("ServiceClassService", service_class_pb2_grpc.add_ServiceClassServiceServicer_to_server,
         servicers.ServiceClassServicer(class_methods, environment_methods)),
        ("AddonProfileService", addon_profile_pb2_grpc.add_AddonProfileServiceServicer_to_server,
         servicers.AddonProfileServicer(addon_methods)),
        ("BuildService", build_pb2_grpc.add_BuildServiceServicer_to_server,
         servicers.BuildServicer(build_methods, application_methods, latest_builds, latest_builds_many)),
        ("EventService", event_service_pb2_grpc.add_EventServiceServicer_to_server,
         servicers.EventServicer(runtime.event_lister())),
    ]
    for service_name, add_to_server, servicer in registrations:
        server.add_servicer(f"threeport.registry.v1alpha1.{service_name}", add_to_server, servicer)

    await seed_system_defaults(cluster_profiles, default_cluster_profiles())
    await seed_system_defaults(service_classes, default_service_classes())
    await seed_system_defaults(addon_profiles, default_addon_profiles())

    controllers: list[tuple[str, ResourceRepository[Any, Any], StatusDeriver, list[Watch]]] = [
        ("application", applications, application_status(functools.partial(newest_per_component, runtime.db)),
         [watches.new_builds(builds)]),
        # An environment whose profile is missing requeues itself until the profile appears.
        ("environment", environments, environment_status(cluster_profiles), []),
        ("cluster-profile", cluster_profiles, accept_as_declared, []),
        ("service-class", service_classes, accept_as_declared, []),
        ("addon-profile", addon_profiles, accept_as_declared, []),
        ("build", builds, build_status(environments), []),
    ]
    if addons_backend:
        runtime.controller(watches.addon_types_controller(runtime.settings.stream_prefix, addon_types), addon_types)
    for name, repository, derive, extra_watches in controllers:
        reconciler = AcceptanceReconciler(repository, runtime.event_recorder(name), derive)
        runtime.controller(watches.acceptance_controller(name, repository, extra_watches), reconciler)


DEFINITION = ServiceDefinition(
    name="registry", schema=SCHEMA, migrations_dir=Path(__file__).parent / "migrations", setup=setup
)
