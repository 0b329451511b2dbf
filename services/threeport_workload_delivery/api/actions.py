"""The custom verbs: Deploy, Promote, Rollback and Approve.

Actions never make releases themselves: they change the deployment's annotations (the images a
promotion or rollback puts in place, ``domain.images``; never the user's ``spec.images`` pins) in
one write that also carries a change note (``domain.changes``), and the reconciler makes the
release from it. Like every write, these writes (and an approval's) publish a change event
through the outbox, which is what wakes the reconciler. They then wait briefly for the release
so the caller can be told its number.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from threeport.delivery.v1alpha1 import deployment_pb2, release_pb2
from threeport.registry.v1alpha1 import application_pb2, environment_pb2
from threeport.sdk import AsyncClient, NotFoundError
from threeport_runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from threeport_runtime.rpc.identity import caller
from threeport_runtime.rpc.standard_methods import StandardMethods
from threeport_workload_delivery.api.validation import check_deployment, id_violations
from threeport_workload_delivery.domain import changes, names
from threeport_workload_delivery.domain import images as image_sources
from threeport_workload_delivery.store.releases import ReleaseStore

Deployment = deployment_pb2.Deployment
RELEASE_WAIT = 5.0
ROLLBACK_NOTES = [
    "data is not rolled back: databases, buckets, volumes and anything a migration changed stay as they are",
    "dependencies (clusters, addons, managed services) and their outputs stay as they are now",
    "the application definition is not changed: its next change rolls forward from it again",
]


class Actions:
    def __init__(
        self,
        methods: StandardMethods[Deployment],
        releases: ReleaseStore,
        registry: AsyncClient,
    ):
        self._methods = methods
        self._deployments = methods.repository
        self._releases = releases
        self._registry = registry

    async def _application(self, parent: str, application: str) -> application_pb2.Application:
        try:
            return await self._registry.application.get_application(name=f"{parent}/applications/{application}")
        except NotFoundError:
            raise NotFound(f"application {parent}/applications/{application} does not exist; apply it first") from None

    async def _environment(self, parent: str, environment: str) -> environment_pb2.Environment:
        try:
            return await self._registry.environment.get_environment(name=f"{parent}/environments/{environment}")
        except NotFoundError:
            raise NotFound(
                f"environment {parent}/environments/{environment} does not exist; an admin creates it with apply"
            ) from None

    async def _find(self, name: str) -> Deployment | None:
        try:
            return await self._deployments.get(name)
        except NotFound:
            return None

    def _check_parent(self, parent: str, **ids: str) -> None:
        violations = self._methods.check_parent(parent) + id_violations(**ids)
        if violations:
            raise InvalidArgument.for_fields(violations)

    async def release_for(self, deployment: str, change_id: str) -> release_pb2.Release:
        """The release the reconciler made for a change, waiting a little; empty if not yet."""
        deadline = time.monotonic() + RELEASE_WAIT
        while time.monotonic() < deadline:
            stored = await self._releases.by_change(deployment, change_id)
            if stored is not None:
                return stored.release
            await asyncio.sleep(0.05)
        return release_pb2.Release()

    async def _write(
        self, parent: str, deployment_id: str, existing: Deployment | None, desired: Deployment,
        request_id: str = "", validate_only: bool = False,
    ) -> Deployment:
        if existing is None:
            return await self._deployments.create(
                desired, name=f"{parent}/deployments/{deployment_id}", request_id=request_id,
                validate_only=validate_only, validate=check_deployment,
            )
        if existing.HasField("delete_time"):
            raise FailedPrecondition(f"{existing.name} is being deleted; wait until it is gone, then deploy again")
        return await self._deployments.update(
            desired, ["annotations"], validate_only=validate_only, validate=check_deployment
        )

    async def deploy(self, request: deployment_pb2.DeployRequest) -> Deployment:
        self._check_parent(request.parent, application=request.application, environment=request.environment)
        await self._application(request.parent, request.application)
        await self._environment(request.parent, request.environment)
        deployment_id = names.deployment_id(request.application, request.environment)
        existing = await self._find(f"{request.parent}/deployments/{deployment_id}")
        desired = Deployment(spec=deployment_pb2.DeploymentSpec(
            application=request.application, environment=request.environment))
        if existing is not None:
            desired.CopyFrom(existing)
            # An explicit deploy returns to the application's current definition.
            desired.annotations.pop(changes.CONFIG_RELEASE, None)
        change = changes.new_change(release_pb2.RELEASE_REASON_DEPLOY, f"tptctl deploy by {caller().principal}",
                                    created_by=caller().principal)
        if existing is not None:
            changes.write_change(desired.annotations, change)
        return await self._write(request.parent, deployment_id, existing, desired, request.request_id,
                                 request.validate_only)

    async def promote(self, request: deployment_pb2.PromoteRequest) -> deployment_pb2.PromoteResponse:
        self._check_parent(request.parent, application=request.application,
                           from_environment=request.from_environment, to_environment=request.to_environment)
        if request.from_environment == request.to_environment:
            raise InvalidArgument("from_environment and to_environment must differ")
        await self._environment(request.parent, request.to_environment)
        source_name = names.deployment_name(names.project_of(request.parent + "/x"), request.application,
                                            request.from_environment)
        source = await self._find(source_name)
        if source is None or not source.status.current_release:
            raise FailedPrecondition(
                f"{source_name} has no release to promote; deploy to {request.from_environment} first"
            )
        stored = await self._releases.get_number(source_name, source.status.current_release)
        if stored is None:
            raise FailedPrecondition(f"release {source.status.current_release} of {source_name} is gone")
        target_id = names.deployment_id(request.application, request.to_environment)
        existing = await self._find(f"{request.parent}/deployments/{target_id}")
        desired = Deployment(spec=deployment_pb2.DeploymentSpec(
            application=request.application, environment=request.to_environment))
        if existing is not None:
            desired.CopyFrom(existing)
        message = f"promoted release {stored.release.number} from {request.from_environment} by {caller().principal}"
        image_sources.write_record(desired.annotations, image_sources.ImageRecord(
            image_sources.PROMOTION, image_sources.moment(datetime.now(UTC)), message, stored.release.images))
        change = changes.new_change(
            release_pb2.RELEASE_REASON_PROMOTION, message, source_release=stored.release.name,
            created_by=caller().principal,
        )
        changes.write_change(desired.annotations, change)
        written = await self._write(request.parent, target_id, existing, desired, request.request_id,
                                    request.validate_only)
        release = release_pb2.Release() if request.validate_only else await self.release_for(written.name, change.id)
        return deployment_pb2.PromoteResponse(deployment=written, release=release)

    async def rollback(self, request: deployment_pb2.RollbackRequest) -> deployment_pb2.RollbackResponse:
        if request.to_release < 0:
            raise InvalidArgument.for_fields([FieldViolation(
                "to_release", f"{request.to_release} is not a release number: give 1 or more, or 0 for the one "
                "before the current release")])
        deployment = await self._deployments.get(request.name)
        current = deployment.status.current_release
        number = request.to_release or current - 1
        if number < 1:
            raise FailedPrecondition(f"{request.name} has no earlier release to roll back to")
        stored = await self._releases.get_number(request.name, number)
        if stored is None:
            raise NotFound(f"{request.name} has no release {number}; see tptctl get releases")
        parent = "/".join(request.name.split("/")[:2])
        application = await self._application(parent, deployment.spec.application)
        desired = Deployment()
        desired.CopyFrom(deployment)
        message = f"rolled back to release {number} by {caller().principal}"
        image_sources.write_record(desired.annotations, image_sources.ImageRecord(
            image_sources.ROLLBACK, image_sources.moment(datetime.now(UTC)), message, stored.release.images))
        desired.annotations[changes.CONFIG_RELEASE] = f"{number}@{application.generation}"
        change = changes.new_change(
            release_pb2.RELEASE_REASON_ROLLBACK, message, source_release=stored.release.name,
            created_by=caller().principal,
        )
        changes.write_change(desired.annotations, change)
        written = await self._write(parent, names.last_segment(request.name), deployment, desired,
                                    validate_only=request.validate_only)
        release = release_pb2.Release() if request.validate_only else await self.release_for(written.name, change.id)
        return deployment_pb2.RollbackResponse(deployment=written, release=release, notes=ROLLBACK_NOTES)

    async def approve(self, request: deployment_pb2.ApproveRequest) -> Deployment:
        deployment = await self._deployments.get(request.name)
        number = request.release or deployment.status.pending_release
        if not number:
            latest = await self._releases.latest(deployment.name, deployment.uid)
            if latest is not None and latest.release.approval == release_pb2.APPROVAL_STATE_PENDING:
                number = latest.release.number
        stored = await self._releases.get_number(request.name, number) if number else None
        if stored is None or stored.release.approval != release_pb2.APPROVAL_STATE_PENDING:
            raise FailedPrecondition(f"{request.name} has no release waiting for approval"
                                     + (f" with number {number}" if request.release else ""))
        # The approval publishes a Release change event (outbox), which wakes the reconciler.
        await self._releases.approve(request.name, number, caller().principal)
        return deployment
