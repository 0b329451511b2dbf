"""The Deployment reconciler: claim a cluster, claim the dependencies, render, make a release
when what would run changed, apply the approved release with server-side apply, prune what is no
longer rendered, observe the rollout, and report conditions (``Placed``, ``DependenciesReady``,
``Applied``, ``Available``, ``Ready``) and Events for each step.

Level-triggered and idempotent: every step re-reads what it needs and can be repeated, so a
crash at any point is repaired by the next reconcile. Live state comes from the cluster's
watch-fed cache (``pipeline.observed``) while it is synced: rollout progress and drift then arrive
as watch events, and nothing is polled; without it, live state is read from the API server and a
rollout in progress is looked at every ``poll_interval``, a converged one every ``drift_interval``.
Releases are made only when the rendered content's fingerprint differs from the newest release's,
which is why a restart never makes a duplicate. Deletion runs in order: workload objects, then
claims, then the finalizer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from google.protobuf import json_format

from threeport.common.v1alpha1 import event_pb2, state_pb2
from threeport.delivery.v1alpha1 import deployment_pb2, release_pb2
from threeport.sdk import ApiError, AsyncClient
from threeport_runtime import helm
from threeport_runtime.conditions import READY, STALLED, TRUE, find_condition, remove_condition, set_condition
from threeport_runtime.db.repository import ResourceRepository, Stored
from threeport_runtime.errors import NotFound
from threeport_runtime.kube.cache import ClusterCache
from threeport_runtime.kube.client import KubeClient
from threeport_runtime.kube.documents import dump_yaml
from threeport_runtime.kube.errors import KubeError, Unreachable
from threeport_runtime.kube.pool import KubePool
from threeport_runtime.reconcile.events import NORMAL, WARNING, EventRecorder
from threeport_runtime.reconcile.result import PermanentError, Result, TemporaryError
from threeport_workload_delivery.config import DeliveryConfig
from threeport_workload_delivery.domain import changes, claims, names, ownership
from threeport_workload_delivery.domain import images as image_sources
from threeport_workload_delivery.domain.apply_order import apply_waves
from threeport_workload_delivery.domain.diffing import ObjectKey, describe, in_sync, object_key
from threeport_workload_delivery.domain.plan import plan
from threeport_workload_delivery.domain.render_jobs import hook_objects
from threeport_workload_delivery.domain.rendering import (
    DependencyOutputs,
    Manifest,
    RenderError,
    component_outputs,
    fingerprint,
    redacted,
)
from threeport_workload_delivery.domain.rollout import AVAILABLE, FAILED, WORKLOAD_KINDS, Assessment, assess
from threeport_workload_delivery.pipeline import secret_inputs
from threeport_workload_delivery.pipeline.charts import render_charts
from threeport_workload_delivery.pipeline.claims import Claimer, DependencyResult
from threeport_workload_delivery.pipeline.hooks import run_hooks
from threeport_workload_delivery.pipeline.inputs import (
    Inputs,
    NotReady,
    load_inputs,
    plan_inputs,
    resolve_classes,
    spec_of,
)
from threeport_workload_delivery.pipeline.live import (
    Kind,
    kinds_of,
    live_objects,
    release_kinds,
    released_kinds,
    remember_release_kinds,
)
from threeport_workload_delivery.pipeline.namespaces import NamespaceGuard, NamespaceRefused
from threeport_workload_delivery.pipeline.observed import ClusterObserver, observe
from threeport_workload_delivery.pipeline.secret_inputs import SecretSources
from threeport_workload_delivery.remote_reads import RegistryReads
from threeport_workload_delivery.store.releases import ReleaseHistory, ReleaseStore, StoredRelease
from threeport_workload_delivery.store.tables import DeploymentRow

log = logging.getLogger(__name__)

Deployment = deployment_pb2.Deployment
PLACED, DEPENDENCIES_READY, APPLIED, AVAILABLE_CONDITION = "Placed", "DependenciesReady", "Applied", "Available"
PAUSED = "Paused"
# Applies of one wave in flight at once (a chart can render many objects).
APPLY_CONCURRENCY = 8
PENDING_STATE = state_pb2.STATE_PENDING
ACTIVE_APPROVALS = (release_pb2.APPROVAL_STATE_UNSPECIFIED, release_pb2.APPROVAL_STATE_APPROVED)


@dataclass
class Observation:
    """What one reconcile learned, written to status in one go at the end."""

    conditions: dict[str, tuple[bool, str, str]]
    cluster: str = ""
    namespace: str = ""
    dependencies: Sequence[deployment_pb2.DependencyStatus] = ()
    current_release: int | None = None
    pending_release: int | None = None
    rollout: deployment_pb2.RolloutStatus | None = None
    outputs: dict[str, str] | None = None
    images: dict[str, deployment_pb2.ImageSource] | None = None
    ready: tuple[bool, str, str] = (False, "Reconciling", "")
    stalled: bool = False


class DeploymentReconciler:
    def __init__(
        self,
        deployments: ResourceRepository[Deployment, DeploymentRow],
        releases: ReleaseStore,
        registry: AsyncClient,
        claimer: Claimer,
        pool: KubePool,
        events: EventRecorder,
        config: DeliveryConfig,
        namespaces: NamespaceGuard,
        secrets: SecretSources,
        charts: helm.ChartCache | None = None,
        observer: ClusterObserver | None = None,
        reads: RegistryReads | None = None,
    ):
        self._reads = reads or RegistryReads(registry)  # the registry, through caches or not
        self._secrets = secrets
        self._deployments = deployments
        self._releases = releases
        self._registry = registry
        self._claimer = claimer
        self._pool = pool
        self._events = events
        self._config = config
        self._namespaces = namespaces
        self._charts = charts or helm.ChartCache()
        self._observer = observer

    async def __call__(self, name: str) -> Result | None:
        try:
            stored = await self._deployments.read(name)
        except NotFound:
            return None
        deployment = stored.message
        if deployment.HasField("delete_time"):
            return await self._delete(deployment)
        # Read with the deployment: only a missing finalizer costs another statement.
        if names.FINALIZER not in stored.finalizers and not await self._deployments.add_finalizer(
                name, names.FINALIZER):
            return None
        observation = Observation(conditions={})
        try:
            result = await self._converge(deployment, observation)
        except NamespaceRefused as refused:
            observation.conditions[APPLIED] = (False, refused.reason, refused.message)
            observation.ready = (False, refused.reason, refused.message)
            await self._record(deployment, WARNING, refused.reason, refused.message)
            result = Result(requeue_after=refused.retry_after)
        except NotReady as waiting:
            observation.ready = (False, waiting.reason, waiting.message)
            result = Result(requeue_after=waiting.retry_after)
        except RenderError as error:  # from planning claims, before the objects are rendered for real
            raise PermanentError("RenderFailed", str(error)) from None
        except KubeError as error:
            unreachable = isinstance(error, Unreachable)
            observation.conditions[APPLIED] = (False, "ClusterUnreachable" if unreachable else "ApplyFailed",
                                               str(error))
            observation.ready = (False, observation.conditions[APPLIED][1], str(error))
            await self._write(stored, observation)
            raise TemporaryError(str(error)) from None
        await self._write(stored, observation)
        return result

    # -- converge ------------------------------------------------------------------------------

    async def _converge(self, deployment: Deployment, seen: Observation, *, reread: bool = False) -> Result:
        if deployment.spec.paused:
            seen.conditions[PAUSED] = (True, "Paused", "rollouts are paused: new releases are recorded, not applied")
        inputs = await load_inputs(self._reads, self._releases, deployment)
        await secret_inputs.fill(self._secrets, deployment, inputs)
        seen.namespace = inputs.namespace
        seen.images = dict(inputs.sources)
        first = plan(plan_inputs(deployment, inputs))
        # A deployment without a Placed condition never reached its claim: nothing to read yet.
        binding = await self._claimer.claim_cluster(
            deployment, first.cluster_claim, maybe_claimed=any(c.type == PLACED for c in deployment.conditions))
        seen.cluster = binding.cluster
        seen.conditions[PLACED] = (binding.ready, binding.reason, binding.message)
        if binding.ready and deployment.status.cluster != binding.cluster:
            await self._record(deployment, NORMAL, "Placed", binding.message)
        if not binding.ready:
            raise NotReady(binding.reason, f"waiting for a cluster: {binding.message}", self._config.poll_interval)
        # Before anything is provisioned or applied for it: the namespace must be this deployment's.
        taken = await self._namespaces.claim(binding.cluster, inputs.namespace, deployment.name,
                                             fallback=inputs.fallback_namespace)
        inputs.namespace = seen.namespace = taken.namespace

        inputs.resolved = await resolve_classes(self._reads, inputs)
        planned = plan(plan_inputs(deployment, inputs, cluster=binding.cluster), earlier=first)
        # The namespace is created (marked as the deployment's) before any dependency is claimed:
        # a provider that puts a service into it (a `local` database) finds it there, owned.
        client = await self._pool.client(binding.cluster)
        await self._namespaces.check_live(client, ownership.marked([planned.namespace], deployment.name),
                                          inputs.namespace, deployment.name, self._cache(binding.cluster))
        wanted = {c.dependency: c for c in planned.claims}
        results: list[DependencyResult] = []
        for dep_name, dep in sorted(inputs.spec.dependencies.items()):
            if dep_name in wanted:
                results.append(await self._claimer.claim_dependency(deployment, wanted[dep_name]))
            else:
                results.append(await self._claimer.application_dependency(deployment, dep_name, dep))
        recorded = {d.name: d.claim for d in deployment.status.dependencies if claims.is_claim(d.claim)}
        for result in results:
            # A provider that cannot be reached now may still hold the claim: keep recording it,
            # so that a later removal or deletion releases it instead of forgetting it.
            if not result.status.claim and recorded.get(result.status.name) == getattr(
                    wanted.get(result.status.name), "name", None):
                result.status.claim = recorded[result.status.name]
        releasing = await self._release_dropped(deployment, {c.name for c in wanted.values()})
        seen.dependencies = [r.status for r in results] + releasing
        waiting = [r for r in results if not r.ready]
        if waiting:
            summary = "; ".join(f"{r.status.name} ({r.status.type}): {r.status.reason} {r.status.message}".strip()
                                for r in waiting)
            seen.conditions[DEPENDENCIES_READY] = (False, waiting[0].status.reason, summary)
            no_provider = all(r.status.reason == "NoProvider" for r in waiting)
            raise NotReady(waiting[0].status.reason, f"waiting for dependencies: {summary}",
                           10.0 if no_provider else max(self._config.poll_interval, 1.0))
        seen.conditions[DEPENDENCIES_READY] = (True, "Ready", f"{len(results)} dependencies ready")
        outputs = {r.status.name: r.outputs for r in results if r.outputs is not None}

        try:
            charts = await render_charts(self._charts, inputs.spec, application=deployment.spec.application,
                                         namespace=inputs.namespace, dependencies=outputs)
            objects = plan(plan_inputs(deployment, inputs, cluster=binding.cluster, outputs=outputs,
                                       charts=charts), earlier=planned).objects
        except RenderError as error:
            raise PermanentError("RenderFailed", str(error)) from None
        assert objects is not None  # every dependency is ready, so every output is known
        # Every release in one read: the newest, the one to run and the kinds to prune come from it.
        history = await self._releases.history(deployment.name, deployment.uid)
        latest = history.latest
        if latest is None or latest.fingerprint != fingerprint(objects):
            if not reread and not await self._reads.still_current(
                    inputs.application, inputs.environment,
                    first_release_since=deployment.create_time.ToNanoseconds() / 1e9 if latest is None else None):
                # Cached copies older than the registry's: once more, from what the registry says.
                return await self._converge(deployment, seen, reread=True)
            latest = await self._new_release(deployment, inputs, objects, history)
            history = history.with_new(latest)
        target, pending = self._target(latest, history)
        seen.pending_release = pending.release.number if pending is not None else 0
        held: tuple[str, str] | None = None
        if pending is not None:
            held = ("AwaitingApproval", f"release {pending.release.number} waits for approval: tptctl approve "
                                        f"deployment {names.last_segment(deployment.name)}")
        if deployment.spec.paused:
            target, held = self._paused(deployment, history, target, held, seen)
        if target is None:
            assert held is not None
            raise NotReady(held[0], held[1], 30.0)
        if target is not latest:
            older = spec_of(target)
            # Dependencies the older release had and the application no longer has publish
            # nothing now: rendering fails only if the release refers to their outputs.
            gone = {name: DependencyOutputs(dep.type)
                    for name, dep in older.dependencies.items() if name not in outputs}
            try:
                charts = await render_charts(self._charts, older, application=deployment.spec.application,
                                             namespace=inputs.namespace, dependencies={**outputs, **gone})
                objects = plan(plan_inputs(deployment, inputs, cluster=binding.cluster, outputs={**outputs, **gone},
                                           spec=older, images=dict(target.release.images), charts=charts)).objects
            except RenderError as error:
                raise PermanentError("RenderFailed", f"release {target.release.number}: {error}") from None
            assert objects is not None
            outputs_spec = older
        else:
            outputs_spec = inputs.spec
        return await self._apply_and_observe(deployment, inputs, target, held, objects, outputs_spec, seen,
                                             history, taken.held)

    @staticmethod
    def _paused(
        deployment: Deployment, history: ReleaseHistory, target: StoredRelease | None,
        held: tuple[str, str] | None, seen: Observation,
    ) -> tuple[StoredRelease | None, tuple[str, str] | None]:
        """While paused, the release running now stays; newer ones are recorded, not applied."""
        running = deployment.status.current_release
        if target is not None and target.release.number == running:
            return target, held
        assert history.latest is not None  # the reconcile made one if there was none
        newest = history.latest.release.number
        message = (f"paused: release {newest} is recorded, not applied; release {running} keeps running until "
                   f"spec.paused is false" if running else
                   f"paused before the first rollout: release {newest} is recorded, not applied")
        seen.conditions[PAUSED] = (True, "Paused", message)
        return history.number(running) if running else None, ("Paused", message)

    async def _release_dropped(
        self, deployment: Deployment, wanted: set[str]
    ) -> list[deployment_pb2.DependencyStatus]:
        """Releases the claims this deployment holds (recorded in ``status.dependencies``) that the
        application no longer declares; those not gone yet stay listed, saying what they wait for."""
        releasing: list[deployment_pb2.DependencyStatus] = []
        for held in deployment.status.dependencies:
            if not claims.is_claim(held.claim) or held.claim in wanted:
                continue
            reason, message = await self._claimer.release_claim(held.claim)
            if not reason:
                await self._record(deployment, NORMAL, "ClaimReleased",
                                   f"{held.claim} ({held.name}: {held.type}) released: no longer a dependency")
                continue
            releasing.append(deployment_pb2.DependencyStatus(
                name=held.name, type=held.type, claim=held.claim, implementation=held.implementation,
                state=PENDING_STATE, reason=reason, message=f"no longer a dependency; {message}"))
        return releasing

    @staticmethod
    def _target(
        latest: StoredRelease, history: ReleaseHistory
    ) -> tuple[StoredRelease | None, StoredRelease | None]:
        """The release to run (newest approved or not needing approval) and the one pending."""
        pending = latest if latest.release.approval == release_pb2.APPROVAL_STATE_PENDING else None
        if latest.release.approval in ACTIVE_APPROVALS:
            return latest, None
        for stored in reversed(history.releases):
            if stored.release.approval in ACTIVE_APPROVALS and stored.release.number < latest.release.number:
                return stored, pending
        return None, pending

    async def _new_release(
        self, deployment: Deployment, inputs: Inputs, objects: list[Manifest], history: ReleaseHistory
    ) -> StoredRelease:
        previous = history.latest
        change = changes.read_change(dict(deployment.annotations))
        if change is not None and history.by_change(change.id) is not None:
            change = None  # Already used by an earlier release.
        built = image_sources.new_builds(dict(previous.release.images) if previous else {}, inputs.sources)
        if change is not None:
            reason, message = change.reason_value, change.message
        elif previous is None:
            reason, message = release_pb2.RELEASE_REASON_INITIAL, "first release"
        elif built:
            reason, message = release_pb2.RELEASE_REASON_BUILD, "; ".join(b.message for b in built)
        else:
            reason = release_pb2.RELEASE_REASON_SPEC_CHANGE
            message = f"application generation {inputs.application.generation}"
            if previous.release.application_generation == inputs.application.generation:
                message = "environment, dependency outputs or deployment changed"
        manifests = [manifest_yaml(redacted(o)) for o in objects]
        remember_release_kinds(manifests, objects)
        release = release_pb2.Release(
            reason=reason,
            message=message,
            application_generation=inputs.application.generation,
            images=inputs.images,
            resolved=inputs.resolved,
            manifests=manifests,
            source_release=change.source_release if change else "",
            build=change.build if change else built[0].image.build if built else "",
            created_by=change.created_by if change and change.created_by else "workload-delivery",
            approval=(release_pb2.APPROVAL_STATE_PENDING if inputs.environment.spec.require_approval
                      else release_pb2.APPROVAL_STATE_UNSPECIFIED),
        )
        stored = await self._releases.create_next(
            deployment=deployment.name,
            deployment_uid=deployment.uid,
            release=release,
            snapshot={"application": json_format.MessageToDict(inputs.spec), "namespace": inputs.namespace},
            fingerprint=fingerprint(objects),
            change_id=change.id if change else "",
        )
        reason_name = release_pb2.ReleaseReason.Name(reason).removeprefix("RELEASE_REASON_").lower()
        note = " (waiting for approval)" if release.approval == release_pb2.APPROVAL_STATE_PENDING else ""
        await self._record(deployment, NORMAL, "ReleaseCreated",
                           f"release {stored.release.number} ({reason_name}): {message}{note}")
        return stored

    async def _apply_and_observe(
        self, deployment: Deployment, inputs: Inputs, target: StoredRelease, held: tuple[str, str] | None,
        objects: list[Manifest], outputs_spec: object, seen: Observation, history: ReleaseHistory,
        namespaces_held: list[tuple[str, str]],
    ) -> Result:
        number = target.release.number
        objects = ownership.marked(objects, deployment.name)
        client = await self._pool.client(seen.cluster)
        cache = self._cache(seen.cluster)
        # Those of every earlier release too, so that what a component no longer declares is found.
        kinds = kinds_of(objects).union(*(release_kinds(r.release.manifests) for r in history.releases))
        # Decided once per pass: when the cache holds every kind the deployment uses, changes
        # arrive as events and nothing is polled.
        watched = cache is not None and observe(cache, kinds)
        # The namespace was checked (and created) before the dependencies were claimed, in this
        # same pass; what remains to check are the cluster-scoped objects.
        await self._namespaces.check_cluster_scoped(client, objects, deployment.name)
        live = await self._owned_live(deployment, client, inputs.project, kinds, cache, released_only=True)
        wanted = {object_key(o) for o in objects}
        was_applied = deployment.status.current_release == number and _true(deployment, APPLIED)
        hooks = hook_objects(objects, outputs_spec)  # type: ignore[arg-type]
        if hooks:
            outcome = await run_hooks(client, hooks, live, inputs.namespace)
            if outcome.phase != AVAILABLE:
                return await self._hook_pending(deployment, number, outcome, seen, watched)
        changed: list[str] = []
        applied: dict[ObjectKey, Manifest] = {}
        for wave in apply_waves(objects):
            await self._apply_wave(client, wave, live, applied, changed)
        if changed and was_applied:
            await self._record(deployment, WARNING, "DriftCorrected", "; ".join(changed))
        pruned = [key for key in live if key not in wanted]
        for key in sorted(pruned, key=_deletion_order):
            await client.delete(live[key])
        if pruned:
            await self._record(deployment, NORMAL, "Pruned", "; ".join(describe(k) for k in pruned))
        await self._namespaces.release_gone(deployment.name, seen.cluster, inputs.namespace,
                                            {key[3] for key in live if key[1] == "Namespace"}, namespaces_held)
        seen.conditions[APPLIED] = (True, "Applied", f"release {number}: {len(objects)} objects applied")
        if deployment.status.current_release != number:
            await self._record(deployment, NORMAL, "RolloutStarted", f"rolling out release {number}")

        workloads = [o for o in objects if o["kind"] in WORKLOAD_KINDS]
        if watched:
            assert cache is not None
            # What this pass applied is newer than what the cache has heard of yet.
            pods = cache.list("v1", "Pod", names.threeport_labels(inputs.project, deployment.name), inputs.namespace)
            current = [(o, applied.get(object_key(o)) or live.get(object_key(o))) for o in workloads]
        else:
            pods = await client.list("v1", "Pod", names.selector_for(inputs.project, deployment.name),
                                     inputs.namespace)
            current = [(o, await client.get(o)) for o in workloads]
        assessment = assess(current, pods)
        # Watched: the next change of a workload or Pod wakes this deployment; else look again.
        # Kinds the cache does not hold (custom resources of manifests and charts) wake nobody
        # when edited or deleted: their drift is still looked for every drift_interval.
        all_watched = watched and cache is not None and all(cache.covers(*kind) for kind in kinds)
        drift_check = None if all_watched else self._config.drift_interval
        progress_check = None if watched else self._config.poll_interval
        rollout = deployment_pb2.RolloutStatus(
            phase=assessment.phase, desired_replicas=assessment.desired, updated_replicas=assessment.updated,
            ready_replicas=assessment.ready, reason=assessment.reason, message=assessment.message,
        )
        if deployment.status.current_release == number and deployment.status.rollout.HasField("start_time"):
            rollout.start_time.CopyFrom(deployment.status.rollout.start_time)
        else:
            rollout.start_time.FromDatetime(datetime.now(UTC))
        seen.rollout = rollout
        seen.current_release = number
        seen.outputs = component_outputs(outputs_spec, deployment.spec.application, inputs.namespace)  # type: ignore[arg-type]
        was_phase = deployment.status.rollout.phase if deployment.status.current_release == number else None
        if assessment.phase == AVAILABLE:
            seen.conditions[AVAILABLE_CONDITION] = (True, "Available", assessment.message)
            if was_phase != AVAILABLE:
                await self._record(deployment, NORMAL, "RolloutComplete", f"release {number} is available")
            if held is not None:
                seen.ready = (False, held[0], f"release {number} runs; {held[1]}")
                return Result(requeue_after=drift_check)
            seen.ready = (True, "Available", f"release {number} is available")
            return Result(requeue_after=drift_check)
        if assessment.phase == FAILED:
            seen.conditions[AVAILABLE_CONDITION] = (False, assessment.reason, assessment.message)
            seen.ready = (False, "RolloutFailed", f"{assessment.reason}: {assessment.message}")
            seen.stalled = True
            if was_phase != FAILED:
                await self._record(deployment, WARNING, "RolloutFailed", f"release {number}: {assessment.message}")
            return Result(requeue_after=None if watched else max(2.0, self._config.poll_interval))
        seen.conditions[AVAILABLE_CONDITION] = (False, "Progressing", assessment.message)
        seen.ready = (False, "Progressing", f"release {number}: {assessment.message}")
        return Result(requeue_after=progress_check)

    async def _apply_wave(self, client: KubeClient, wave: Sequence[Manifest], live: dict[ObjectKey, Manifest],
                          applied: dict[ObjectKey, Manifest], changed: list[str]) -> None:
        """Applies the objects of one wave (``domain.apply_order``) that differ from what runs, at
        once (at most ``APPLY_CONCURRENCY`` requests in flight). A failed apply fails the pass
        after its wave's other requests have ended, as the first failure in rendered order;
        the next wave is not started."""
        gate = asyncio.Semaphore(APPLY_CONCURRENCY)

        async def converge(manifest: Manifest) -> Manifest | None:
            key = object_key(manifest)
            async with gate:
                if key[1] == "Namespace" and key not in live:
                    live_ns = await client.get(manifest)
                    if live_ns is not None:
                        live[key] = live_ns
                if in_sync(live.get(key), manifest):
                    return None
                return await client.apply(manifest)

        outcomes = await asyncio.gather(*(converge(m) for m in wave), return_exceptions=True)
        if failed := next((o for o in outcomes if isinstance(o, BaseException)), None):
            raise failed
        for manifest, outcome in zip(wave, outcomes, strict=True):
            if outcome is not None:
                key = object_key(manifest)
                applied[key] = cast(Manifest, outcome)
                changed.append(("recreated " if key not in live else "restored ") + describe(key))

    async def _hook_pending(
        self, deployment: Deployment, number: int, outcome: Assessment, seen: Observation, watched: bool
    ) -> Result:
        """The release waits for its pre-deploy hooks (or failed with one): nothing else was applied."""
        seen.current_release = number
        seen.rollout = deployment_pb2.RolloutStatus(phase=outcome.phase, reason=outcome.reason,
                                                    message=outcome.message)
        seen.rollout.start_time.FromDatetime(datetime.now(UTC))
        if deployment.status.current_release == number and deployment.status.rollout.HasField("start_time"):
            seen.rollout.start_time.CopyFrom(deployment.status.rollout.start_time)
        seen.conditions[APPLIED] = (False, "WaitingForHooks" if outcome.phase != FAILED else "HookFailed",
                                    outcome.message)
        seen.conditions[AVAILABLE_CONDITION] = (False, outcome.reason, outcome.message)
        if outcome.phase == FAILED:
            seen.ready = (False, "HookFailed", f"release {number}: {outcome.message}")
            seen.stalled = True
            if not (deployment.status.current_release == number
                    and deployment.status.rollout.phase == FAILED):
                await self._record(deployment, WARNING, "HookFailed", f"release {number}: {outcome.message}")
            return Result(requeue_after=None if watched else self._config.drift_interval)
        seen.ready = (False, "WaitingForHooks", f"release {number}: {outcome.message}")
        # The hook Jobs and their Pods carry the deployment's labels: watched, they wake it.
        return Result(requeue_after=None if watched else self._config.poll_interval)

    # -- deletion ------------------------------------------------------------------------------

    async def _delete(self, deployment: Deployment) -> Result | None:
        claim = await self._claimer.find_cluster(deployment)
        project = names.project_of(deployment.name)
        if claim is not None and claim.status.cluster:
            try:
                client = await self._pool.client(claim.status.cluster)
                kinds = await released_kinds(self._releases, deployment.name)
                live = await self._owned_live(deployment, client, project, kinds)
                for key in sorted(live, key=_deletion_order):
                    await client.delete(live[key])
            except (KubeError, ApiError) as error:
                await self._blocked(deployment, f"cannot remove workload objects from {claim.status.cluster}: {error}")
                raise TemporaryError(str(error)) from None
            if live:
                shown = ", ".join(describe(k) for k in list(live)[:5])
                more = f" and {len(live) - 5} more" if len(live) > 5 else ""
                where = claim.status.cluster
                await self._blocked(
                    deployment, f"waiting for {len(live)} Kubernetes objects in {where} to go: {shown}{more}"
                )
                return Result(requeue_after=self._config.poll_interval)
        waiting: list[str] = []
        if cluster_wait := await self._claimer.release_cluster(self._claimer.cluster_claim_name(deployment)):
            waiting.append(cluster_wait)
        unavailable = False
        for held in deployment.status.dependencies:
            if claims.is_claim(held.claim):
                reason, message = await self._claimer.release_claim(held.claim)
                if reason:
                    waiting.append(message)
                    unavailable = unavailable or reason in ("ProviderUnavailable", "NoProvider")
        if waiting:
            message = "waiting for claims to be released: " + "; ".join(waiting)
            if unavailable and message != deployment.status.deletion_blocked_by:
                await self._record(deployment, WARNING, "WaitingForProvider", message)
            await self._blocked(deployment, message)
            return Result(requeue_after=self._config.poll_interval)
        await self._namespaces.release_all(deployment.name)
        await self._record(deployment, NORMAL, "Deleted", "workload objects removed and claims released")
        await self._releases.delete_all(deployment.name)
        await self._deployments.remove_finalizer(deployment.name, names.FINALIZER)
        return None

    def _cache(self, cluster: str) -> ClusterCache | None:
        """The cluster's watch-fed cache (started on first use), if this reconciler has one."""
        return self._observer.cache(cluster) if self._observer is not None else None

    async def _owned_live(
        self, deployment: Deployment, client: KubeClient, project: str, kinds: Iterable[Kind],
        cache: ClusterCache | None = None, *, released_only: bool = False,
    ) -> dict[ObjectKey, Manifest]:
        """The live objects with the deployment's labels (of ``kinds``, Namespaces and unless
        ``released_only`` every Threeport kind) that it may change or delete: those in
        namespaces it owns. Others (labels alone prove nothing) are left alone, and said so.
        From ``cache`` for the kinds it holds; deletion reads the API server (a lagging cache
        must not let a finalizer go while objects remain)."""
        found = await live_objects(client, project, deployment.name, kinds, cache, released_only=released_only)
        live, others = ownership.split_owned(found, deployment.name)
        if others:
            await self._record(deployment, WARNING, "NotOwned", "left alone, not in a namespace this deployment "
                               "owns: " + "; ".join(describe(k) for k in others[:5]))
        return live

    async def _blocked(self, deployment: Deployment, message: str) -> None:
        def mutate(stored: Deployment) -> None:
            stored.status.deletion_blocked_by = message

        await self._deployments.update_status(deployment.name, mutate)

    # -- status --------------------------------------------------------------------------------

    async def _write(self, stored: Stored[Deployment], seen: Observation) -> None:
        """Writes what the pass observed. Compared first with the deployment as the pass read
        it: a pass that changes nothing (every steady one) costs no statement; a change is one
        statement if the row is still as read, else written under the row lock and the fence
        check on the fresh row (``update_status``)."""
        deployment = stored.message
        # What was observed is about the generation this pass read: if the spec changed
        # meanwhile, Ready must not claim the newer generation (`--wait` would return early).
        observed = deployment.generation

        def mutate(stored: Deployment) -> None:
            status = stored.status
            if seen.cluster:
                status.cluster = seen.cluster
            if seen.namespace:
                status.namespace = seen.namespace
            if seen.dependencies or DEPENDENCIES_READY in seen.conditions:
                del status.dependencies[:]
                status.dependencies.extend(seen.dependencies)
            if seen.current_release is not None:
                status.current_release = seen.current_release
            if seen.pending_release is not None:
                status.pending_release = seen.pending_release
            if seen.rollout is not None:
                status.rollout.CopyFrom(seen.rollout)
            if seen.outputs is not None:
                status.outputs.clear()
                status.outputs.update(seen.outputs)
            if seen.images is not None:
                status.images.clear()
                for component, source in seen.images.items():
                    status.images[component].CopyFrom(source)
            if not stored.spec.paused:
                remove_condition(stored.conditions, PAUSED)
            for kind, (ok, reason, message) in seen.conditions.items():
                set_condition(stored.conditions, kind, ok, reason=reason, message=message,
                              observed_generation=observed)
            ready, reason, message = seen.ready
            set_condition(stored.conditions, READY, ready, reason=reason, message=message,
                          observed_generation=observed)
            if seen.stalled:
                set_condition(stored.conditions, STALLED, True, reason=reason, message=message,
                              observed_generation=observed)
            else:
                remove_condition(stored.conditions, STALLED)

        await self._deployments.update_status(deployment.name, mutate, read=stored)

    async def _record(
        self, deployment: Deployment, kind: event_pb2.EventType.ValueType, reason: str, message: str
    ) -> None:
        await self._events.record(resource=deployment.name, resource_uid=deployment.uid, type=kind, reason=reason,
                                  message=message, generation=deployment.generation)


def _true(deployment: Deployment, kind: str) -> bool:
    condition = find_condition(deployment.conditions, kind)
    return condition is not None and condition.status == TRUE and condition.observed_generation == deployment.generation


def _deletion_order(key: tuple[str, str, str, str]) -> tuple[bool, bool, bool]:
    """Workloads first (their Pods stop before their config goes), CRDs (with their custom
    resources) after everything else of the deployment, the namespace last."""
    kind = key[1]
    return kind == "Namespace", kind == "CustomResourceDefinition", kind not in WORKLOAD_KINDS


def manifest_yaml(manifest: Manifest) -> str:
    return dump_yaml(manifest, sort_keys=False)
