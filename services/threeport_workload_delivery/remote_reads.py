"""What a deployment reconcile reads from other services, and the caches that spare the calls.

A steady reconcile reads the application, the environment, the newest matching builds and the
service class of each addon or managed-service dependency from the registry, and the
deployment's ClusterClaim from the cluster-manager. ``RegistryReads`` asks
the registry every time (plans, actions); ``DeliveryCaches`` keeps the last answer per name
(``threeport_runtime.remote_cache``), forgotten when the owner's change event arrives on the
streams delivery's controller already consumes. What each event forgets:

| stream | forgets |
|---|---|
| Application ``projects/P/applications/A`` | that application and its builds (every environment) (*) |
| Environment ``projects/P/environments/E`` | that environment, and the builds and service classes resolved for it (*) |
| Build ``projects/P/applications/A/builds/B`` | the builds of A (every environment) |
| ServiceClass (any) | every resolved service class (any class may now match first) |
| ClusterClaim ``clusterClaims/C`` | that claim |

A full resync checks the caches instead of clearing them (``Listings``): per project that
deployments or cached entries name, one paged List each of applications, environments and
builds (``projects/P/applications/-``), and one of service classes and of cluster claims: a few
calls per resync, however many deployments, where clearing cost ~3 reads per deployment. A
resource whose listing changed since the previous resync, or that an entry names but is no
longer listed, is forgotten as its event would have forgotten it (the table). Builds and
service classes are resolved answers (the newest matching build per component, the class an
environment resolves to), so they are checked through what they are resolved from: the listed
builds, environments, applications and service classes.

(*) A release is made from an application's and an environment's spec and generation, never
their status, so a status-only change (the registry marking one Ready) forgets nothing: a cached copy
may hold an older status, and ``still_current`` compares only what a release is made from. (At
2,000 new deployments, each app's Ready made every deployment read its application and builds
again.)

The listed applications, environments and cluster claims are the messages their Get answers
(both are the owner's StandardMethods, one row converted alike), so each resync also fills
those caches with them (``CacheFeed.relist``'s ``fills``): the resync after a restart, which
can only clear, leaves them warm. The newest builds are computed per application and
environment by the registry's SQL (not reproduced from the listed builds), so a resync then
asks for those the cache is missing, of every (application, environment) pair the deployments
name, a thousand pairs per ``BatchListLatestBuilds`` call (``CacheFeed.prefill``): the
reconciles of the resync after a restart read nothing from other services one by one, where
each used to make its own ``ListLatestBuilds`` call.

"Not found" and errors are never cached. Cached messages are shared: callers read them, never
change them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from threeport.clusters.v1alpha1 import cluster_claim_pb2
from threeport.common.v1alpha1 import change_event_pb2
from threeport.registry.v1alpha1 import application_pb2, build_pb2, environment_pb2, service_class_pb2
from threeport.sdk import AsyncClient
from threeport_runtime.bus.streams import resource_stream
from threeport_runtime.remote_cache import CacheFeed, RemoteCache
from threeport_workload_delivery.domain import names

Event = change_event_pb2.ChangeEvent
APPLICATIONS = "threeport.registry.v1alpha1.Application"
ENVIRONMENTS = "threeport.registry.v1alpha1.Environment"
BUILDS = "threeport.registry.v1alpha1.Build"
SERVICE_CLASSES = "threeport.registry.v1alpha1.ServiceClass"
CLUSTER_CLAIMS = "threeport.clusters.v1alpha1.ClusterClaim"
# The builds of one application for one environment are cached under "<application>@<environment>",
# a resolved service class under "<type>/<class>@<environment>".
SEPARATOR = "@"
STATUS_ONLY = change_event_pb2.CHANGE_TYPE_STATUS_CHANGED
PAGE_SIZE = 1000  # the most a List page holds
BATCH_SIZE = 1000  # the most (application, environment) pairs one BatchListLatestBuilds takes


class RegistryReads:
    """The registry's answers, read on every call."""

    def __init__(self, registry: AsyncClient):
        self.registry = registry

    async def application(self, name: str) -> application_pb2.Application:
        return await self.registry.application.get_application(name=name)

    async def environment(self, name: str) -> environment_pb2.Environment:
        return await self.registry.environment.get_environment(name=name)

    async def latest_builds(self, application: str, environment: str) -> build_pb2.ListLatestBuildsResponse:
        return await self.registry.build.list_latest_builds(parent=application, environment=environment)

    async def still_current(self, application: application_pb2.Application,
                            environment: environment_pb2.Environment, *,
                            first_release_since: float | None = None) -> bool:
        """Whether what a reconcile read is still the registry's: always, when read fresh."""
        return True

    async def service_class(self, environment: str, dependency_type: str,
                            requested_class: str) -> service_class_pb2.ResolveServiceClassResponse:
        """The service class the registry resolves for a dependency in ``environment``."""
        return await self.registry.service_class.resolve_service_class(
            parent=environment.split("/environments/", 1)[0], environment=environment, type=dependency_type,
            class_=requested_class)


@dataclass
class DeliveryCaches:
    """One bounded cache per kind of resource read (each holds at most one entry per deployment)."""

    applications: RemoteCache[application_pb2.Application]
    environments: RemoteCache[environment_pb2.Environment]
    builds: RemoteCache[build_pb2.ListLatestBuildsResponse]
    cluster_claims: RemoteCache[cluster_claim_pb2.ClusterClaim]
    service_classes: RemoteCache[service_class_pb2.ResolveServiceClassResponse]

    @classmethod
    def sized(cls, max_entries: int) -> DeliveryCaches:
        return cls(RemoteCache("applications", max_entries), RemoteCache("environments", max_entries),
                   RemoteCache("builds", max_entries), RemoteCache("cluster_claims", max_entries),
                   RemoteCache("service_classes", max_entries))

    def feed(self, prefix: str, listings: Listings | None = None) -> CacheFeed:
        """What each stream's events forget (the table above), and how a resync checks the caches
        (without ``listings`` it clears them)."""
        feed = CacheFeed()
        feed.track(self.applications, self.environments, self.builds, self.cluster_claims, self.service_classes)
        feed.on(resource_stream(prefix, APPLICATIONS), self._application_changed)
        feed.on(resource_stream(prefix, ENVIRONMENTS), self._environment_changed)
        feed.on(resource_stream(prefix, BUILDS), self._build_changed)
        feed.on(resource_stream(prefix, CLUSTER_CLAIMS), lambda event: self.cluster_claims.forget(event.name))
        feed.on(resource_stream(prefix, SERVICE_CLASSES), lambda _event: self.service_classes.clear())
        if listings is not None:
            # Get and List answer the same message of a name (the registry's and the cluster-manager's
            # StandardMethods): those listings fill their caches.
            feed.relist(resource_stream(prefix, APPLICATIONS), listings.applications, self._held_applications,
                        fills=self.applications)
            feed.relist(resource_stream(prefix, ENVIRONMENTS), listings.environments, self._held_environments,
                        fills=self.environments)
            feed.relist(resource_stream(prefix, BUILDS), listings.builds, self._held_builds)
            feed.relist(resource_stream(prefix, CLUSTER_CLAIMS), listings.cluster_claims,
                        self.cluster_claims.cached_keys, fills=self.cluster_claims)
            feed.relist(resource_stream(prefix, SERVICE_CLASSES), listings.service_classes,
                        self._held_service_classes)
            feed.prefill(self.builds, listings.latest_builds)
        return feed

    def projects(self) -> set[str]:
        """The projects whose applications, environments or builds the caches hold something of."""
        held = [*self.applications.cached_keys(), *self.environments.cached_keys(), *self._held_environments()]
        return {project_parent(name) for name in held}

    def _held_applications(self) -> Iterable[str]:
        resolved_for = (key.split(SEPARATOR, 1)[0] for key in self.builds.cached_keys())
        return {*self.applications.cached_keys(), *resolved_for}

    def _held_environments(self) -> Iterable[str]:
        resolved = (key.rsplit(SEPARATOR, 1)[1]
                    for key in [*self.builds.cached_keys(), *self.service_classes.cached_keys()])
        return {*self.environments.cached_keys(), *resolved}

    def _held_builds(self) -> Iterable[str]:
        return {build.name for latest in self.builds.cached_values() for build in latest.builds.values()}

    def _held_service_classes(self) -> Iterable[str]:
        return {resolved.service_class.name for resolved in self.service_classes.cached_values()}

    def _application_changed(self, event: Event) -> None:
        if event.change == STATUS_ONLY:
            return
        self.applications.forget(event.name)
        self._forget_builds_of(event.name)

    def _environment_changed(self, event: Event) -> None:
        if event.change == STATUS_ONLY:
            return
        self.environments.forget(event.name)
        self.builds.forget_where(lambda key: key.endswith(SEPARATOR + event.name))
        self.service_classes.forget_where(lambda key: key.endswith(SEPARATOR + event.name))

    def _build_changed(self, event: Event) -> None:
        self._forget_builds_of(event.name.rsplit("/builds/", 1)[0])

    def _forget_builds_of(self, application: str) -> None:
        self.builds.forget_where(lambda key: key.startswith(application + SEPARATOR))


def builds_key(application: str, environment: str) -> str:
    """The builds cache's key of the newest builds of ``application`` for ``environment``."""
    return application + SEPARATOR + environment


def project_parent(name: str) -> str:
    """``projects/P`` for any name under it (the parent a List of the project takes)."""
    return f"projects/{names.project_of(name)}"


class Listings:
    """Every resource of each cached kind, listed from its owner a page of ``PAGE_SIZE`` at a time:
    registry kinds per project (deployments' and cached entries', ``projects``), cluster claims and
    service classes all at once; and the newest builds of the (application, environment) pairs
    the deployments name (``pairs``), ``BATCH_SIZE`` pairs a call."""

    def __init__(self, registry: AsyncClient, clusters: AsyncClient, projects: Callable[[], AsyncIterator[str]],
                 pairs: Callable[[], Awaitable[list[tuple[str, str]]]]):
        self.registry = registry
        self.clusters = clusters
        self._projects = projects
        self._pairs = pairs

    async def latest_builds(self, cache: RemoteCache[Any]) -> AsyncIterator[tuple[str, Message]]:
        """The newest builds of each pair whose entry ``cache`` is missing, as many as it has room
        for, keyed as ``CachedRegistryReads.latest_builds`` keys them."""
        room = max(cache.max_entries - len(cache), 0)
        missing = [pair for pair in await self._pairs() if builds_key(*pair) not in cache][:room]
        for start in range(0, len(missing), BATCH_SIZE):
            batch = missing[start:start + BATCH_SIZE]
            answer = await self.registry.internal.build.batch_list_latest_builds(requests=[
                build_pb2.ListLatestBuildsRequest(parent=application, environment=environment)
                for application, environment in batch])
            for pair, latest in zip(batch, answer.responses, strict=True):
                yield builds_key(*pair), latest

    def applications(self) -> AsyncIterator[Message]:
        return self._per_project(
            lambda project: self.registry.application.list_applications(parent=project, page_size=PAGE_SIZE))

    def environments(self) -> AsyncIterator[Message]:
        return self._per_project(
            lambda project: self.registry.environment.list_environments(parent=project, page_size=PAGE_SIZE))

    def builds(self) -> AsyncIterator[Message]:
        return self._per_project(  # AIP-159: the builds of every application of the project
            lambda project: self.registry.build.list_builds(parent=f"{project}/applications/-", page_size=PAGE_SIZE))

    def service_classes(self) -> AsyncIterator[Message]:
        return self.registry.service_class.list_service_classes(page_size=PAGE_SIZE)

    def cluster_claims(self) -> AsyncIterator[Message]:
        return self.clusters.internal.cluster_claim.list_cluster_claims(page_size=PAGE_SIZE)

    async def _per_project(self, list_in: Callable[[str], AsyncIterator[Message]]) -> AsyncIterator[Message]:
        projects = {project async for project in self._projects()}
        for project in sorted(projects):
            async for message in list_in(project):
                yield message


class CachedRegistryReads(RegistryReads):
    """The registry's answers, from ``caches`` when they hold them."""

    def __init__(self, registry: AsyncClient, caches: DeliveryCaches):
        super().__init__(registry)
        self.caches = caches

    async def application(self, name: str) -> application_pb2.Application:
        return await self.caches.applications.get(name, lambda: super(CachedRegistryReads, self).application(name))

    async def environment(self, name: str) -> environment_pb2.Environment:
        return await self.caches.environments.get(name, lambda: super(CachedRegistryReads, self).environment(name))

    async def latest_builds(self, application: str, environment: str) -> build_pb2.ListLatestBuildsResponse:
        return await self.caches.builds.get(
            builds_key(application, environment),
            lambda: super(CachedRegistryReads, self).latest_builds(application, environment))

    async def service_class(self, environment: str, dependency_type: str,
                            requested_class: str) -> service_class_pb2.ResolveServiceClassResponse:
        return await self.caches.service_classes.get(
            f"{dependency_type}/{requested_class}{SEPARATOR}{environment}",
            lambda: super(CachedRegistryReads, self).service_class(environment, dependency_type, requested_class))

    async def still_current(self, application: application_pb2.Application,
                            environment: environment_pb2.Environment, *,
                            first_release_since: float | None = None) -> bool:
        """Whether the cached application, environment and builds a reconcile used are still the
        registry's, asked fresh. Checked only before a new release is made from them: another
        replica may have acted on a change whose event this replica's feed has not read yet, and
        a copy a few milliseconds old must never roll an older version back out. The registry's
        answers replace the cached copies, so a pass that follows reads them.

        ``first_release_since``: the deployment has no release yet and was created at this time
        (seconds since the epoch). A copy read from the registry since then is not asked for
        again (a new deployment's application and builds, read on its first pass: 2 of its ~12
        calls to other services): no release exists that an older copy could roll back (one
        another replica makes meanwhile takes the number first, and this pass is retried), and
        release 1 is made from what the registry held when the deployment was made, or later. A
        change after that reaches it as any change does (its event, or the resync). What the
        cache holds now is compared, in case it changed since the reconcile read it."""
        app_name, env_name = application.name, environment.name
        cached_key = builds_key(app_name, env_name)
        registry = RegistryReads(self.registry)  # the same reads, uncached
        cached_builds = await self.latest_builds(app_name, env_name)

        async def confirm(cache: RemoteCache[Any], key: str, load: Callable[[], Awaitable[Any]]) -> Any:
            if first_release_since is not None:
                read = cache.read_since(key, first_release_since)
                if read is not None:
                    return read
            return await cache.refresh(key, load)

        # At once: this check is on every new release's way (a create's included).
        async with asyncio.TaskGroup() as reads:
            fresh = (
                reads.create_task(confirm(self.caches.applications, app_name, lambda: registry.application(app_name))),
                reads.create_task(confirm(self.caches.environments, env_name, lambda: registry.environment(env_name))),
                reads.create_task(confirm(self.caches.builds, cached_key,
                                          lambda: registry.latest_builds(app_name, env_name))),
            )
        confirmed_app, confirmed_env, confirmed_builds = (read.result() for read in fresh)
        return (release_source(confirmed_app) == release_source(application)
                and release_source(confirmed_env) == release_source(environment)
                and confirmed_builds == cached_builds)


def release_source(resource: application_pb2.Application | environment_pb2.Environment) -> tuple[int, bytes]:
    """What a release is made from of an application or environment: its generation and spec
    (deterministically serialized), never its status."""
    return resource.generation, resource.spec.SerializeToString(deterministic=True)
