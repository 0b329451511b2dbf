"""Wires the toy service: repository, servicer, controller (what a real service.py does)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from threeport.registry.v1alpha1 import application_pb2, application_pb2_grpc
from threeport_runtime.reconcile.controller import SPEC_AND_LIFECYCLE_CHANGES, Watch
from threeport_runtime.reconcile.status import stall_writer
from threeport_runtime.rpc.server import GrpcServer
from threeport_runtime.runtime import ServiceDefinition, ServiceRuntime

from .reconciler import ApplicationReconciler
from .servicer import Applications, ApplicationServicer
from .tables import SCHEMA, ApplicationRow

FILTER_FIELDS = {"spec.description": "spec.description"}


def applications_of(runtime: ServiceRuntime) -> Applications:
    return runtime.repository(ApplicationRow, application_pb2.Application, filter_fields=FILTER_FIELDS)


async def setup(runtime: ServiceRuntime, server: GrpcServer) -> None:
    applications = applications_of(runtime)
    servicer = ApplicationServicer(applications, runtime.redis, heartbeat_interval=0.5)
    server.add_service(
        "threeport.registry.v1alpha1.ApplicationService",
        lambda grpc_server: application_pb2_grpc.add_ApplicationServiceServicer_to_server(servicer, grpc_server),
    )

    async def all_names() -> AsyncIterator[str]:
        async for name in applications.iter_names():
            yield name

    reconciler = ApplicationReconciler(applications, runtime.event_recorder("application"))
    runtime.controller(
        "toy.application",
        reconciler,
        watches=[Watch(applications.stream, changes=SPEC_AND_LIFECYCLE_CHANGES)],
        list_keys=all_names,
        on_permanent_error=stall_writer(applications),
    )


DEFINITION = ServiceDefinition(
    name="toy", schema=SCHEMA, migrations_dir=Path(__file__).parent / "migrations", setup=setup
)
