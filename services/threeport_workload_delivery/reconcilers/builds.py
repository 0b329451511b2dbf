"""Turns builds reported to the registry into rollouts.

The controller consumes the registry's Build stream (CREATED events; the stream name is the
runtime's Outbox naming with the shared prefix) and re-reads each build from the registry. Every
deployment of the build's application whose environment's auto-deploy rules match the build's
branch or tag gets the image (pinned by digest) as its component override, with a ``BUILD``
change note; its reconciler then makes the release and rolls it out. Builds are never resynced:
an event is the only trigger, and a build older than the one a component already runs is
ignored, so redelivered events cannot roll anything back.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from threeport.delivery.v1alpha1 import deployment_pb2, release_pb2
from threeport.registry.v1alpha1 import build_pb2
from threeport.sdk import AbortedError, AsyncClient, NotFoundError
from threeport_model import auto_deploy
from threeport_runtime.db.repository import ResourceRepository
from threeport_runtime.errors import Aborted, FailedPrecondition
from threeport_runtime.reconcile.result import Result, TemporaryError
from threeport_workload_delivery.domain import changes, names
from threeport_workload_delivery.store.tables import DeploymentRow

log = logging.getLogger(__name__)


async def no_keys() -> AsyncIterator[str]:
    return
    yield  # pragma: no cover - makes this an async generator


def build_message(build: build_pb2.Build, application: str) -> str:
    source = f"branch {build.spec.branch}" if build.spec.branch else f"tag {build.spec.tag}"
    commit = f" ({build.spec.commit[:12]})" if build.spec.commit else ""
    return f"build {names.last_segment(build.name)} of {application}/{build.spec.component} on {source}{commit}"


async def deployments_of(
    deployments: ResourceRepository[deployment_pb2.Deployment, DeploymentRow], project: str, application: str
) -> list[deployment_pb2.Deployment]:
    found: list[deployment_pb2.Deployment] = []
    token = ""
    while True:
        page, token = await deployments.list(
            parent=f"projects/{project}", filter_text=f'spec.application = "{application}"', hide_deleting=True,
            page_size=1000, page_token=token,
        )
        found.extend(page)
        if not token:
            return found


class BuildReconciler:
    def __init__(
        self, deployments: ResourceRepository[deployment_pb2.Deployment, DeploymentRow], registry: AsyncClient
    ):
        self._deployments = deployments
        self._registry = registry

    async def __call__(self, name: str) -> Result | None:
        try:
            build = await self._registry.build.get_build(name=name)
        except NotFoundError:
            return None
        project = names.project_of(name)
        application = name.split("/")[3]
        for deployment in await deployments_of(self._deployments, project, application):
            try:
                environment = await self._registry.environment.get_environment(
                    name=f"projects/{project}/environments/{deployment.spec.environment}"
                )
            except NotFoundError:
                continue
            if not auto_deploy.any_rule_matches(
                environment.spec.auto_deploy, application, build.spec.branch, build.spec.tag
            ):
                continue
            await self.roll(deployment, build, application)
        return None

    async def roll(self, deployment: deployment_pb2.Deployment, build: build_pb2.Build, application: str) -> None:
        component = build.spec.component
        if not changes.build_newer(dict(deployment.annotations), component, build.name):
            return
        updated = deployment_pb2.Deployment()
        updated.CopyFrom(deployment)
        updated.spec.images[component].CopyFrom(
            release_pb2.ImageRef(image=build.spec.image, digest=build.spec.digest, build=build.name)
        )
        updated.annotations[changes.BUILD_PREFIX + component] = names.last_segment(build.name)
        change = changes.new_change(
            release_pb2.RELEASE_REASON_BUILD, build_message(build, application), build=build.name,
            created_by=build.status.reporter or "ci",
        )
        changes.write_change(updated.annotations, change)
        try:
            await self._deployments.update(updated, ["spec.images", "annotations"])
        except (Aborted, AbortedError):
            raise TemporaryError(f"{deployment.name} changed meanwhile; retrying the build") from None
        except FailedPrecondition:
            return  # Being deleted.
        log.info("build rolls out", extra={"deployment": deployment.name, "build": build.name})
