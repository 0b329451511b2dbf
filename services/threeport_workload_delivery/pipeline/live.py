"""What runs in the cluster for a deployment: every object carrying its labels.

The caller names the kinds to look for: those rendered now and those of every earlier release
(releases are kept, never trimmed), so that what a component no longer declares is still found
and pruned. A reconcile looks for those and Namespaces (``released_only``); deletion and plans
also look for every kind Threeport renders, so that an object of any of them carrying the labels
is found even if no release names its kind.

The kinds a cluster cache (``pipeline.observed``) holds are read from it, not from the API
server; the others are listed.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import cast

import yaml

from threeport_runtime.kube.cache import ClusterCache
from threeport_runtime.kube.client import KubeClient
from threeport_runtime.kube.errors import NotFound
from threeport_workload_delivery.domain import names
from threeport_workload_delivery.domain.diffing import ObjectKey, object_key
from threeport_workload_delivery.domain.rendering import Manifest
from threeport_workload_delivery.store.releases import ReleaseStore

# What pruning and deletion look for, workloads first so Pods stop before their config goes.
PRUNABLE: tuple[tuple[str, str], ...] = (
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("batch/v1", "CronJob"),
    ("batch/v1", "Job"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("policy/v1", "PodDisruptionBudget"),
    ("v1", "Service"),
    ("v1", "Secret"),
    ("v1", "ConfigMap"),
    ("v1", "ServiceAccount"),
    ("networking.k8s.io/v1", "Ingress"),
)
# Kinds an addon brings (the metrics addon's CRD): looked for only where the cluster serves them.
ADDON_PRUNABLE: tuple[tuple[str, str], ...] = (("monitoring.coreos.com/v1", "ServiceMonitor"),)


Kind = tuple[str, str]
NAMESPACE: Kind = ("v1", "Namespace")


def kinds_of(objects: Iterable[Manifest]) -> set[Kind]:
    return {(str(o["apiVersion"]), str(o["kind"])) for o in objects}


# Releases whose kinds are known, by a digest of their manifests: every reconcile asks for the
# kinds of every release of its deployment, and parsing their YAML each time was ~8% of
# delivery's CPU. Keyed by content, not by release name, so an answer can only be reused for
# the same text. An entry is ~0.3 KB; 10,000 deployments of a few releases each fit.
RELEASE_KINDS_CAPACITY = 50_000
_release_kinds: OrderedDict[bytes, frozenset[Kind]] = OrderedDict()


# libyaml's loader where PyYAML was built with it: it reads the same documents ~10x faster.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _text_digest(manifests: Sequence[str]) -> bytes:
    digest = hashlib.blake2b(digest_size=32)
    for text in manifests:
        encoded = text.encode()
        digest.update(len(encoded).to_bytes(8, "big"))
        digest.update(encoded)
    return digest.digest()


# One copy of each distinct set of kinds: releases of the same shape of application (most of
# them) share it instead of holding ~0.8 KB of tuples and strings each. Bounded: past this many
# shapes a set is kept as it is.
SHAPES_CAPACITY = 1_000
_shapes: dict[frozenset[Kind], frozenset[Kind]] = {}


def _shared(kinds: frozenset[Kind]) -> frozenset[Kind]:
    if (known := _shapes.get(kinds)) is not None:
        return known
    if len(_shapes) < SHAPES_CAPACITY:
        _shapes[kinds] = kinds
    return kinds


def _keep(key: bytes, kinds: frozenset[Kind]) -> None:
    _release_kinds[key] = _shared(kinds)
    _release_kinds.move_to_end(key)
    if len(_release_kinds) > RELEASE_KINDS_CAPACITY:
        _release_kinds.popitem(last=False)


def release_kinds(manifests: Sequence[str]) -> set[Kind]:
    """The kinds among a release's stored objects (YAML text), parsed once per distinct text."""
    key = _text_digest(manifests)
    kinds = _release_kinds.get(key)
    if kinds is None:
        kinds = frozenset(kind for kind in map(_kind_of, manifests) if kind is not None)
    _keep(key, kinds)
    return set(kinds)


_STR = "tag:yaml.org,2002:str"
_WANTED = ("apiVersion", "kind")
# How the safe loader decides a plain scalar's type (``yes`` is a bool, ``1`` an int).
_resolve_tag = cast(Callable[[type, str, tuple[bool, bool]], str], yaml.resolver.Resolver().resolve)


def _kind_of(text: str) -> Kind | None:
    """The kind of one stored object (None for a document that is not a mapping).

    Read from the parser's events up to the two top-level keys, without building the object:
    Threeport writes them first, so this reads a few lines of each manifest (about 30x faster
    than loading a Deployment; after a restart every release's kinds are read once, which was a
    fifth of delivery's time resyncing 10,000 deployments). The text was dumped from an object,
    so each key appears once. Anything else (a value that does not load as a string, a key
    missing, a key that is not a scalar) is loaded whole, as before."""
    depth, at_key, key = 0, True, None
    found: dict[str, str] = {}
    for event in yaml.parse(text, Loader=_YAML_LOADER):
        if isinstance(event, yaml.CollectionStartEvent):
            if (depth == 0 and not isinstance(event, yaml.MappingStartEvent)) or (depth == 1 and at_key):
                break
            depth += 1
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
            at_key = True
            if depth == 0:
                break
        elif depth != 1:
            continue
        elif at_key:
            if not isinstance(event, yaml.ScalarEvent):
                break
            key, at_key = event.value, False
        else:
            if key in _WANTED:
                if not (isinstance(event, yaml.ScalarEvent) and _loads_as_string(event)):
                    break
                found[str(key)] = event.value
                if len(found) == len(_WANTED):
                    return found["apiVersion"], found["kind"]
            at_key = True
    loaded = yaml.load(text, Loader=_YAML_LOADER)  # a safe loader
    return next(iter(kinds_of([loaded])), None) if isinstance(loaded, dict) else None


def _loads_as_string(event: yaml.ScalarEvent) -> bool:
    tag = event.tag or _resolve_tag(yaml.ScalarNode, event.value, event.implicit)
    return tag in ("!", _STR)


def remember_release_kinds(manifests: Sequence[str], objects: Iterable[Manifest]) -> None:
    """Records the kinds of a release being made from ``objects`` (its ``manifests`` are their
    YAML): every release is new text, so without this its first reconcile parses it back."""
    _keep(_text_digest(manifests), frozenset(kinds_of(objects)))


async def released_kinds(releases: ReleaseStore, deployment: str) -> set[Kind]:
    """The kinds of every object any release of the deployment had (to find them for pruning)."""
    kinds: set[Kind] = set()
    for stored in await releases.all(deployment):
        kinds |= release_kinds(stored.release.manifests)
    return kinds


async def live_objects(
    client: KubeClient, project: str, deployment: str, kinds: Iterable[Kind] = (), cache: ClusterCache | None = None,
    *, released_only: bool = False,
) -> dict[ObjectKey, Manifest]:
    """Everything in the cluster carrying this deployment's labels, in any namespace, of
    ``kinds`` and Namespaces, and unless ``released_only`` of every kind Threeport renders; from
    ``cache`` for the kinds it holds."""
    selector = names.selector_for(project, deployment)
    labels = names.threeport_labels(project, deployment)
    wanted = set(kinds) | {NAMESPACE}
    threeport_kinds = (*PRUNABLE, NAMESPACE, *ADDON_PRUNABLE)
    looked = [k for k in threeport_kinds if not released_only or k in wanted] + sorted(wanted - set(threeport_kinds))
    found: dict[ObjectKey, Manifest] = {}
    for api_version, kind in looked:
        if cache is not None and cache.holds(api_version, kind):
            items = cache.list(api_version, kind, labels)
        else:
            try:
                items = await client.list(api_version, kind, selector)
            except NotFound:
                if (api_version, kind) in (*PRUNABLE, NAMESPACE):
                    raise
                continue  # an addon's or a custom kind the cluster does not serve: nothing of it to prune
        for item in items:
            found[object_key(item)] = item
    return found
