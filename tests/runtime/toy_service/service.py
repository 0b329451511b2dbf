"""Registers the toy service: repository, servicer, controller (what a real service.py does)."""

from __future__ import annotations

from pathlib import Path

from threeport.registry.v1alpha1 import application_pb2, application_pb2_grpc
from threeport_runtime.reconcile.spec import ControllerSpec, For
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
    server.add_servicer(
        "threeport.registry.v1alpha1.ApplicationService",
        application_pb2_grpc.add_ApplicationServiceServicer_to_server,
        servicer,
    )
    # For(): the toy's own applications wake it (not its own status writes), are resynced from
    # its table and stalled through their status on a permanent error.
    reconciler = ApplicationReconciler(applications, runtime.event_recorder("application"))
    runtime.controller(ControllerSpec("toy.application", for_=For.resource(applications)), reconciler)


DEFINITION = ServiceDefinition(
    name="toy", schema=SCHEMA, migrations_dir=Path(__file__).parent / "migrations", setup=setup
)
