"""The AddonInstallation reconciler: installs an addon in a cluster, keeps it current and
healthy, and uninstalls it once nothing has used it for the grace period.

Each pass converges from scratch: the addon's version and values are rendered (``installers``),
checked, applied with server-side apply in dependency order (CRDs and namespaces first), objects
the previous pass applied and this one did not are pruned, and health is read from the
workloads. Nothing is applied unless everything rendered, so a broken chart or values that
fail the schema change nothing in the cluster. A catalog or profile change reaches every
installation through the watches (``watches.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jsonschema
from google.protobuf import json_format

from threeport.addons.v1alpha1 import addon_installation_pb2, addon_pb2
from threeport.common.v1alpha1 import change_event_pb2, event_pb2
from threeport_addon_manager.config import AddonManagerConfig
from threeport_addon_manager.domain.catalog import version_of
from threeport_addon_manager.domain.installations import (
    apply_rank,
    installation_id,
    installation_name,
    object_key,
    parse_object_key,
)
from threeport_addon_manager.installers.charts import ChartCache, ChartError
from threeport_addon_manager.installers.render import render
from threeport_addon_manager.reconcilers.cloud_access import CloudAccess, NoCloudAccess
from threeport_addon_manager.reconcilers.lookup import installation_of, list_all
from threeport_addon_manager.reconcilers.profiles import AddonProfile, ProfileSource
from threeport_addon_manager.store.repositories import Addons, Claims, Installations
from threeport_runtime.conditions import READY, find_condition, is_ready
from threeport_runtime.errors import AlreadyExists, NotFound
from threeport_runtime.helm import merge_values
from threeport_runtime.kube.client import KubeClient
from threeport_runtime.kube.errors import Invalid, KubeError
from threeport_runtime.kube.pool import KubePool
from threeport_runtime.kube.readiness import readiness
from threeport_runtime.reconcile.events import NORMAL, WARNING, EventRecorder
from threeport_runtime.reconcile.result import Result, TemporaryError
from threeport_runtime.reconcile.status import mark_ready

INSTALLATION_FINALIZER = "addons.threeport.io/installation"
# How often an uninstall looks again at objects still being deleted.
UNINSTALL_POLL = 1.0
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")
MANAGED_BY = {"app.kubernetes.io/managed-by": "threeport"}

Enqueue = Callable[[str], None]
Installation = addon_installation_pb2.AddonInstallation


class InstallationFailed(Exception):
    """The installation cannot converge until the catalog, values or cluster change."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


class InstallationReconciler:
    def __init__(
        self,
        installations: Installations,
        addons: Addons,
        claims: Claims,
        pool: KubePool,
        charts: ChartCache,
        events: EventRecorder,
        config: AddonManagerConfig,
        profiles: ProfileSource,
        cloud: CloudAccess,
    ):
        self._installations = installations
        self._addons = addons
        self._claims = claims
        self._pool = pool
        self._charts = charts
        self._events = events
        self._config = config
        self._profiles = profiles
        self._cloud = cloud
        self.enqueue: Enqueue = lambda _name: None

    async def __call__(self, name: str) -> Result | None:
        try:
            installation = await self._installations.get(name)
        except NotFound:
            return None
        if installation.HasField("delete_time"):
            return await self._uninstall(installation)
        if not await self._installations.add_finalizer(name, INSTALLATION_FINALIZER):
            return None
        users = await self._users(installation)
        profile = await self._profiles.for_addon(installation.spec.addon)
        grace = self._grace(profile)
        unused_for = self._unused_for(installation, users)
        if installation.spec.managed and not users and unused_for >= grace:
            await self._record(installation, NORMAL, "Unused", f"nothing has used it for {grace:g}s: uninstalling")
            await self._installations.delete(name, allow_missing=True)
            return None
        try:
            result = await self._converge(installation, users, profile)
        except InstallationFailed as failed:
            await self._fail(installation, users, failed)
            return None
        if installation.spec.managed and not users:
            remaining = max(0.5, grace - unused_for)
            return Result(requeue_after=min(remaining, result.requeue_after or remaining))
        return result

    async def _converge(self, installation: Installation, users: list[str], profile: AddonProfile | None) -> Result:
        addon = await self._addons.find(installation.spec.addon)
        if addon is None or addon.HasField("delete_time"):
            raise InstallationFailed("AddonNotFound", f"{installation.spec.addon} is not in the addon catalog")
        wanted = installation.spec.version or (profile.spec.version if profile is not None else "")
        version = version_of(addon, wanted)
        if version is None:
            raise InstallationFailed(
                "UnknownVersion",
                f"{addon.name} has no version {wanted!r} "
                f"(versions: {', '.join(v.version for v in addon.spec.versions)})",
            )
        requires = await self._requirements(installation, addon)
        waiting = [r for r in requires if not r[1]]
        if waiting:
            await self._report(
                installation,
                users,
                requires=[r[0] for r in requires],
                ready=False,
                reason="WaitingForRequirements",
                message="waiting for " + ", ".join(r[0] for r in waiting),
            )
            return Result(requeue_after=self._config.health_poll)
        values = self._values(addon, installation, profile)
        client = await self._client(installation.spec.cluster)
        try:
            access = await self._cloud.prepare(client, addon, values)
        except NoCloudAccess as error:
            raise InstallationFailed("NoCloudAccess", str(error)) from None
        try:
            rendered = await render(
                addon,
                version,
                access.values,
                release=installation_id(addon.name, installation.spec.cluster),
                charts=self._charts,
            )
        except ChartError as error:
            raise InstallationFailed("RenderFailed", str(error)) from None
        credentials = [access.secret] if access.secret is not None else []
        objects = await self._prepare(client, addon, installation, rendered.objects + credentials)
        applied = await self._apply(client, objects)
        if access.keep is not None and object_key(access.keep) not in applied:
            applied.append(object_key(access.keep))  # still good in the cluster: kept, not re-issued
        await self._prune(client, installation, set(applied))
        unhealthy = await self._unhealthy(client, objects)
        upgraded = installation.status.installed_version not in ("", version.version)
        first = not installation.status.installed_version

        def done(stored: Installation) -> None:
            stored.status.installed_version = version.version
            del stored.status.objects[:]
            stored.status.objects.extend(applied)
            stored.status.outputs.clear()
            stored.status.outputs.update(rendered.outputs)

        await self._report(
            installation,
            users,
            requires=[r[0] for r in requires],
            ready=not unhealthy,
            reason="Progressing" if unhealthy else "Installed",
            message=("waiting for " + "; ".join(unhealthy))
            if unhealthy
            else f"{addon.name} {version.version} installed",
            also=done,
        )
        if first or upgraded:
            verb = "Upgraded" if upgraded else "Installed"
            await self._record(
                installation, NORMAL, verb, f"{verb.lower()} {addon.name} {version.version} ({len(applied)} objects)"
            )
        again = [t for t in (self._config.health_poll if unhealthy else None, access.renew_in) if t is not None]
        return Result(requeue_after=max(0.5, min(again))) if again else Result()

    def _values(
        self, addon: addon_pb2.Addon, installation: Installation, profile: AddonProfile | None
    ) -> dict[str, Any]:
        """The addon's defaults, the profile's values over them, the installation's over both."""
        values = json_format.MessageToDict(addon.spec.default_values)
        if profile is not None:
            values = merge_values(values, json_format.MessageToDict(profile.spec.values))
        values = merge_values(values, json_format.MessageToDict(installation.spec.values))
        if addon.spec.HasField("values_schema"):
            schema = json_format.MessageToDict(addon.spec.values_schema)
            problems = sorted(jsonschema.Draft202012Validator(schema).iter_errors(values), key=lambda e: list(e.path))
            if problems:
                described = "; ".join(
                    f"{'.'.join(str(p) for p in e.path) or '(values)'}: {e.message}" for e in problems[:5]
                )
                raise InstallationFailed(
                    "InvalidValues", f"the values do not satisfy {addon.name}'s schema: {described}"
                )
        return values

    async def _client(self, cluster: str) -> KubeClient:
        try:
            return await self._pool.client(cluster)
        except NotFound:
            raise InstallationFailed(
                "ClusterNotFound", f"{cluster} is not a cluster the cluster-manager knows"
            ) from None
        except Exception as error:
            raise TemporaryError(f"cannot get credentials for {cluster}: {error}") from error

    async def _prepare(
        self, client: KubeClient, addon: addon_pb2.Addon, installation: Installation, rendered: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Labels every object as the installation's, puts namespaced objects without a namespace
        into the addon's, adds that namespace, and orders them for applying."""
        namespace = addon.spec.namespace
        labels = {
            **MANAGED_BY,
            "threeport.io/addon": addon.name.rsplit("/", 1)[-1],
            "threeport.io/installation": installation.name.rsplit("/", 1)[-1],
        }
        objects: list[dict[str, Any]] = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}]
        objects += [
            o for o in rendered if not (o.get("kind") == "Namespace" and o["metadata"].get("name") == namespace)
        ]
        for obj in objects:
            metadata = obj.setdefault("metadata", {})
            metadata["labels"] = {**(metadata.get("labels") or {}), **labels}
            if "namespace" not in metadata and await self._namespaced(client, obj, objects):
                metadata["namespace"] = namespace
        return sorted(objects, key=apply_rank)

    @staticmethod
    async def _namespaced(client: KubeClient, obj: dict[str, Any], objects: list[dict[str, Any]]) -> bool:
        group = str(obj["apiVersion"]).rpartition("/")[0]
        for crd in objects:  # a kind this installation defines is not discoverable before its CRD is applied
            spec = crd.get("spec") or {}
            if (
                crd.get("kind") == "CustomResourceDefinition"
                and spec.get("group") == group
                and (spec.get("names") or {}).get("kind") == obj.get("kind")
            ):
                return spec.get("scope") == "Namespaced"
        try:
            return (await client.resource(obj["apiVersion"], obj["kind"])).namespaced
        except KubeError as error:
            raise InstallationFailed("UnknownKind", f"{obj['kind']} ({obj['apiVersion']}): {error}") from None

    async def _apply(self, client: KubeClient, objects: list[dict[str, Any]]) -> list[str]:
        applied: list[str] = []
        for obj in objects:
            try:
                await client.apply(obj)
            except Invalid as error:
                raise InstallationFailed("ApplyRejected", str(error)) from None
            except KubeError as error:
                raise TemporaryError(str(error)) from error
            applied.append(object_key(obj))
        return applied

    async def _prune(self, client: KubeClient, installation: Installation, keep: set[str]) -> None:
        stale = [parse_object_key(k) for k in installation.status.objects if k not in keep]
        for ref in sorted(stale, key=apply_rank, reverse=True):
            try:
                await client.delete(ref)
            except KubeError as error:
                raise TemporaryError(str(error)) from error

    @staticmethod
    async def _unhealthy(client: KubeClient, objects: list[dict[str, Any]]) -> list[str]:
        waiting: list[str] = []
        for obj in objects:
            if obj.get("kind") not in WORKLOADS:
                continue
            live = await client.get(obj)
            state = readiness(live) if live is not None else None
            if state is None or not state.ready:
                what = "not found" if state is None else state.message
                waiting.append(
                    f"{obj['kind']} {obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}: {what}"
                )
        return waiting

    async def _requirements(self, installation: Installation, addon: addon_pb2.Addon) -> list[tuple[str, bool]]:
        """The installations of the addons this one requires (created when missing), and whether each is Ready."""
        found: list[tuple[str, bool]] = []
        for required in addon.spec.requires:
            name = installation_name(required, installation.spec.cluster)
            existing = await installation_of(self._installations, required, installation.spec.cluster)
            existing = existing or await self._installations.find(name)  # being deleted: wait for it
            if existing is None:
                wanted = Installation(
                    spec=addon_installation_pb2.AddonInstallationSpec(
                        addon=required, cluster=installation.spec.cluster, managed=True
                    )
                )
                try:
                    existing = await self._installations.create(wanted, name=name)
                except AlreadyExists:
                    existing = await self._installations.get(name)
            ready = not existing.HasField("delete_time") and is_ready(existing.conditions, existing.generation)
            found.append((existing.name, ready))
        return found

    async def _users(self, installation: Installation) -> list[str]:
        """What uses it: the claims bound to it and the live installations that require it."""
        claims = await list_all(self._claims, f'status.installation = "{installation.name}"')
        requiring = await list_all(self._installations, f'spec.cluster = "{installation.spec.cluster}"')
        return sorted([c.name for c in claims] + [i.name for i in requiring if installation.name in i.status.requires])

    def _grace(self, profile: AddonProfile | None) -> float:
        if profile is not None and profile.spec.HasField("uninstall_grace_period"):
            return profile.spec.uninstall_grace_period.ToTimedelta().total_seconds()
        return self._config.uninstall_grace

    async def every_installation(self, event: change_event_pb2.ChangeEvent) -> list[str]:
        """Keys for an AddonProfile change: every installation (profiles are few, and a deleted
        one no longer says which addon it named)."""
        return sorted(i.name for i in await list_all(self._installations))

    @staticmethod
    def _unused_for(installation: Installation, users: list[str]) -> float:
        if users or not installation.status.HasField("unused_since"):
            return 0.0
        return max(0.0, time.time() - installation.status.unused_since.ToSeconds())

    async def _report(
        self,
        installation: Installation,
        users: list[str],
        *,
        requires: list[str],
        ready: bool,
        reason: str,
        message: str,
        also: Callable[[Installation], None] | None = None,
    ) -> None:
        def mark(stored: Installation) -> None:
            del stored.status.claims[:]
            stored.status.claims.extend(u for u in users if u.startswith("addonClaims/"))
            del stored.status.requires[:]
            stored.status.requires.extend(requires)
            if users or not stored.spec.managed:
                stored.status.ClearField("unused_since")
            elif not stored.status.HasField("unused_since"):
                stored.status.unused_since.GetCurrentTime()
            if also is not None:
                also(stored)
            mark_ready(stored, ready=ready, reason=reason, message=message)

        await self._installations.update_status(installation.name, mark)

    async def _fail(self, installation: Installation, users: list[str], failed: InstallationFailed) -> None:
        previous = find_condition(installation.conditions, READY)
        await self._report(
            installation,
            users,
            requires=list(installation.status.requires),
            ready=False,
            reason=failed.reason,
            message=failed.message,
        )
        if previous is None or previous.reason != failed.reason or previous.message != failed.message:
            await self._record(installation, WARNING, failed.reason, failed.message)

    async def _uninstall(self, installation: Installation) -> Result | None:
        if installation.status.objects:
            try:
                client = await self._client(installation.spec.cluster)
            except InstallationFailed as gone:
                # The cluster itself is gone: there is nothing left to remove from it.
                await self._record(installation, WARNING, gone.reason, f"{gone.message}; forgetting its objects")
                await self._installations.remove_finalizer(installation.name, INSTALLATION_FINALIZER)
                return None
            refs = [parse_object_key(k) for k in installation.status.objects]
            remaining = 0
            for ref in sorted(refs, key=apply_rank, reverse=True):
                try:
                    await client.delete(ref)
                    remaining += await client.get(ref) is not None
                except KubeError as error:
                    raise TemporaryError(str(error)) from error
            if remaining:
                # Deletion may take a while (finalizers, a CRD's custom resources): the installation
                # keeps its finalizer until every object is gone, so an uninstall leaves nothing.
                return Result(requeue_after=UNINSTALL_POLL)
            await self._record(
                installation,
                NORMAL,
                "Uninstalled",
                f"removed {len(refs)} objects of {installation.spec.addon} from {installation.spec.cluster}",
            )
        await self._installations.remove_finalizer(installation.name, INSTALLATION_FINALIZER)
        for required in installation.status.requires:
            self.enqueue(required)  # one user fewer: it may start its own grace period
        return None

    async def installations_of_addon(self, event: change_event_pb2.ChangeEvent) -> list[str]:
        """Keys for a catalog change: every installation of that addon (to upgrade or fail)."""
        return sorted(i.name for i in await list_all(self._installations, f'spec.addon = "{event.name}"'))

    async def _record(
        self, installation: Installation, kind: event_pb2.EventType.ValueType, reason: str, message: str
    ) -> None:
        await self._events.record(
            resource=installation.name,
            resource_uid=installation.uid,
            type=kind,
            reason=reason,
            message=message,
            generation=installation.generation,
        )
