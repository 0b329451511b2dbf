"""A watch-fed cache of one cluster's objects, informer-style (client-go's reflector + store).

For each kind of its kind-set the cache lists the objects matching a label selector, then
watches from the list's ``resourceVersion`` (with ``allowWatchBookmarks``, so a quiet watch
still moves its resume point forward). A watch that ends normally (its ``timeoutSeconds``) is
resumed from the last version seen; a ``410 Gone`` (the version fell out of the server's
history) re-lists at once; a dropped connection or any other failure marks the kind unsynced and
re-lists after an exponential back-off. A re-list tells handlers what changed meanwhile
(``ADDED``/``MODIFIED``/``DELETED`` from the difference), so no change is lost to a gap. A
``DELETED`` hands over the copy the cache held (an object whose labels were edited out of the
selector still says, by its old labels, whose it was).

A cache may watch only some of its kinds (``start(kinds)``), and start the others later, as
controller-runtime starts an informer the first time a kind is asked for: each watch holds a
connection (~59 KB over TLS), and a caller that uses a few of the kinds need not pay for all.
``holds`` says whether one kind is watched and listed, and its watch has not failed since:
readers fall back to asking the API server for a kind it does not hold. ``synced`` says the
same of every kind started.

What is kept, to bound memory: every object minus ``metadata.managedFields`` (the bulk of a
server-side-applied object); of a Pod's ``spec`` only its containers' names and resource
requests (readers look at labels, owners, status, and the cluster-manager's probe sums
requests); of a Pod's ``status`` its phase, conditions and container states without their
times, addresses and ids (what readiness and failure reasons are read from: at 2,000
deployments over 100 clusters Pods were 48% of a cache's packed bytes, most of it timestamps,
IPs and container ids, which compress badly); of a Node's status not its ``images`` (a list of
every image pulled, often the bulk of a Node). Other specs stay: drift detection compares them
with what was applied. An empty
selector caches every object of the kinds. Each object
is kept packed (``packing``: its JSON text deflated against the first object of its kind), with
its labels beside it for filtering (``_Entry``): a parsed Deployment costs
~11 KB of Python objects, its text ~1.2-2 KB, packed ~0.2 KB, and unpacking it costs ~12 us per
read. Readers get a new dict each time, so changing one changes nothing here.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from threeport_runtime.kube.errors import KubeError, NotFound
from threeport_runtime.kube.packing import KindPacker
from threeport_runtime.tasks import cancel_and_wait

if TYPE_CHECKING:
    from threeport_runtime.kube.client import KubeClient

log = logging.getLogger(__name__)

Object = dict[str, Any]
Kind = tuple[str, str]  # (apiVersion, kind)
# "namespace/name" ("/name" for a cluster-scoped object; neither part may hold a "/"): one string
# per object where a (namespace, name) tuple and its name string cost ~100 bytes more (~11 MB of
# delivery's memory at 10,000 deployments, 110,000 objects).
ObjectName = str
Handler = Callable[[str, Object], None]
ClientSource = Callable[[], Awaitable["KubeClient"]]

# client-go's reflector: a watch lasts a random 5-10 minutes, then resumes from where it was.
WATCH_SECONDS = (300, 600)
# A watch that sends nothing (not even a bookmark) for this long past its own timeout is dead.
WATCH_GRACE = 30.0
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 30.0
SHORT_WATCH = 1.0
PAGE_SIZE = 500
# Label sets a cache may hold beyond twice its objects before it drops those no object carries.
LABEL_SETS_SLACK = 64


class Expired(Exception):
    """The watch's resourceVersion is too old (410 Gone): list again."""


def slim(obj: Object) -> Object:
    """The part of an object the cache keeps (see the module docstring)."""
    kept = dict(obj)
    metadata = dict(kept.get("metadata") or {})
    metadata.pop("managedFields", None)
    kept["metadata"] = metadata
    if kept.get("kind") == "Pod":
        if "spec" in kept:
            containers = (kept["spec"] or {}).get("containers") or []
            kept["spec"] = {"containers": [_container_requests(c) for c in containers]}
        if isinstance(kept.get("status"), dict):
            kept["status"] = _pod_status(kept["status"])
    elif kept.get("kind") == "Node" and isinstance(kept.get("status"), dict):
        kept["status"] = {k: v for k, v in kept["status"].items() if k != "images"}
    return kept


def _container_requests(container: Any) -> Object:
    """A container's name and resource requests: what a Pod keeps of its spec."""
    if not isinstance(container, dict):
        return {"name": ""}
    kept: Object = {"name": container.get("name") or ""}
    resources = container.get("resources")
    requests = resources.get("requests") if isinstance(resources, dict) else None
    if requests:
        kept["resources"] = {"requests": requests}
    return kept


# What a Pod's status keeps (``_pod_status``); and what no reader of a cache needs anywhere in it.
POD_STATUS_KEPT = ("phase", "reason", "message", "conditions", "initContainerStatuses", "containerStatuses")
CONTAINER_STATUS_KEPT = ("name", "image", "ready", "restartCount", "state", "lastState")
NOT_KEPT_IN_POD_STATUS = frozenset({"lastProbeTime", "lastTransitionTime", "startedAt", "finishedAt", "containerID"})


def _pod_status(status: Object) -> Object:
    """A Pod's phase, conditions and container states, without times, addresses and ids."""
    kept: Object = {}
    for key in POD_STATUS_KEPT:
        if key not in status:
            continue
        value = status[key]
        if key in ("initContainerStatuses", "containerStatuses") and isinstance(value, list):
            value = [{k: c[k] for k in CONTAINER_STATUS_KEPT if k in c} if isinstance(c, dict) else c for c in value]
        kept[key] = _without_times(value)
    return kept


def _without_times(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_times(v) for k, v in value.items() if k not in NOT_KEPT_IN_POD_STATUS}
    if isinstance(value, list):
        return [_without_times(v) for v in value]
    return value


class _Entry(NamedTuple):
    """One cached object: its labels (read without unpacking) and its packed text.

    The labels are kept as a tuple of ``key=value`` strings (a key has no ``=``), interned, and
    equal tuples shared (``_LabelSets``): a tuple of five costs 80 bytes where a dict of them cost
    272 (~2 KB per deployment of the bench app). Its resourceVersion is only in the packed text:
    a re-list tells a changed object by its packed text, which differs exactly when the object's
    text does (packing is deterministic), where a version string beside each object cost ~70
    bytes (~0.8 KB per deployment)."""

    labels: tuple[str, ...]
    packed: bytes


class _LabelSets:
    """One shared tuple for each distinct set of labels in a cache: a deployment's objects of a
    kind carry the same labels (half of the tuples at 2,000 deployments were copies, ~0.5 KB per
    deployment). Sets that no cached object carries any more (a rollout's old pod-template-hash)
    are dropped once the sets outnumber the objects twice over (``LABEL_SETS_SLACK`` aside)."""

    __slots__ = ("_shared",)

    def __init__(self) -> None:
        self._shared: dict[tuple[str, ...], tuple[str, ...]] = {}

    def __len__(self) -> int:
        return len(self._shared)

    def entry(self, obj: Object, packer: KindPacker) -> _Entry:
        """The entry of ``obj``, its labels shared with every other object that has the same."""
        labels = tuple(sys.intern(_pair(k, v)) for k, v in ((obj.get("metadata") or {}).get("labels") or {}).items())
        return _Entry(self._shared.setdefault(labels, labels), packer.pack(obj))

    def keep_only(self, carried: Iterable[tuple[str, ...]]) -> None:
        self._shared = {labels: labels for labels in carried}


def _pair(key: object, value: object) -> str:
    return f"{key}={value}"


def _name(obj: Mapping[str, Any]) -> ObjectName:
    metadata = obj.get("metadata") or {}
    return _key(str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))


def _key(namespace: str, name: str) -> ObjectName:
    return f"{namespace}/{name}"


def _version(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


class ClusterCache:
    """The objects of ``kinds`` matching ``selector`` in one cluster, kept current by watches.

    ``client`` returns the cluster's current client (a ``KubePool`` rebuilds it when credentials
    change); ``handlers`` are called with (event type, object) after the cache holds the change.
    """

    def __init__(
        self, name: str, client: ClientSource, kinds: Sequence[Kind], selector: str, *, index: str = "",
    ) -> None:
        self.name = name
        self.kinds: tuple[Kind, ...] = tuple(dict.fromkeys(kinds))
        self.selector = selector
        self._client = client
        self._objects: dict[Kind, dict[ObjectName, _Entry]] = {kind: {} for kind in self.kinds}
        # ``index``: a label key whose value names a few of many objects (delivery's deployment
        # label), as controller-runtime's field indexes: a ``list`` asking for it looks at those
        # objects only. Without it each list read every object of the kind in the cluster, 14% of
        # delivery's time in a resync. Kept per kind: ``key=value`` -> the objects' names, sorted,
        # as a tuple: a deployment has a few objects of a kind, and a set of them cost 216 bytes
        # where a tuple of two costs 56 (~1 KB per deployment over its kinds).
        self._index_prefix = f"{index}=" if index else ""
        self._indexed: dict[Kind, dict[str, tuple[ObjectName, ...]]] = {kind: {} for kind in self.kinds}
        self._packers: dict[Kind, KindPacker] = {kind: KindPacker() for kind in self.kinds}
        self._label_sets = _LabelSets()
        self._synced: set[Kind] = set()
        # Per kind, how many changes the cache took in: a reader that derives something from all
        # objects of a kind (the cluster-manager's probe sums) redoes it only when this moved.
        self._revisions: dict[Kind, int] = dict.fromkeys(self.kinds, 0)
        self._handlers: list[Handler] = []
        self._tasks: dict[Kind, asyncio.Task[None]] = {}
        self._changed = asyncio.Event()

    # -- lifecycle -------------------------------------------------------------------------------

    def add_handler(self, handler: Handler) -> None:
        if handler not in self._handlers:
            self._handlers.append(handler)

    def start(self, kinds: Iterable[Kind] | None = None) -> None:
        """Starts one list-and-watch task for each of ``kinds`` (every kind of the cache if
        None) that is not watched yet; a kind outside the cache's kind-set is refused."""
        for kind in self.kinds if kinds is None else kinds:
            if kind in self._tasks:
                continue
            if kind not in self._objects:
                raise ValueError(f"{kind[0]} {kind[1]} is not one of the kinds the cache of {self.name} may hold")
            self._tasks[kind] = asyncio.create_task(self._run(kind), name=f"kube cache {self.name} {kind[1]}")

    def cancel(self) -> None:
        """Stops the watches (their tasks end at the next turn of the event loop)."""
        for task in self._tasks.values():
            task.cancel()
        self._synced.clear()

    async def stop(self) -> None:
        """Stops the watches and waits until their tasks have ended."""
        tasks, self._tasks = list(self._tasks.values()), {}
        self._synced.clear()
        await cancel_and_wait(*tasks)

    @property
    def tasks(self) -> list[asyncio.Task[None]]:
        return list(self._tasks.values())

    @property
    def watched(self) -> frozenset[Kind]:
        """The kinds whose list-and-watch has been started."""
        return frozenset(self._tasks)

    @property
    def synced(self) -> bool:
        """Every kind started is listed, and no watch failed since (readers may trust what is
        here); false before any is started."""
        return bool(self._tasks) and all(self.holds(*kind) for kind in self._tasks)

    def holds(self, api_version: str, kind: str) -> bool:
        """The kind is watched, listed, and its watch has not failed since."""
        task = self._tasks.get((api_version, kind))
        return task is not None and (api_version, kind) in self._synced and not task.done()

    async def wait_synced(self) -> None:
        """Returns once ``synced`` (the caller bounds the wait)."""
        while not self.synced:
            self._changed.clear()
            await self._changed.wait()

    # -- reads -----------------------------------------------------------------------------------

    def revision(self, api_version: str, kind: str) -> int:
        """A number that changes whenever the cached objects of the kind may have changed."""
        return self._revisions.get((api_version, kind), 0)

    def covers(self, api_version: str, kind: str) -> bool:
        """The kind is one the cache may hold (watched now or not)."""
        return (api_version, kind) in self._objects

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> Object | None:
        entry = self._objects.get((api_version, kind), {}).get(_key(namespace, name))
        return self._packers[(api_version, kind)].unpack(entry.packed) if entry is not None else None

    def list(
        self, api_version: str, kind: str, labels: Mapping[str, str] | None = None, namespace: str | None = None
    ) -> list[Object]:
        """The cached objects of a kind carrying every one of ``labels`` (in ``namespace``, if given)."""
        wanted = tuple(_pair(key, value) for key, value in (labels or {}).items())
        found: list[Object] = []
        objects = self._objects.get((api_version, kind))
        if not objects:
            return found
        packer = self._packers[(api_version, kind)]
        key = self._index_key(wanted)
        if key is None:
            candidates: Iterable[tuple[ObjectName, _Entry]] = objects.items()
        else:  # the index is updated with the objects, so each name it holds is there
            candidates = ((name, objects[name]) for name in self._indexed[(api_version, kind)].get(key, ()))
        prefix = None if namespace is None else f"{namespace}/"
        for name, entry in candidates:
            if prefix is not None and not name.startswith(prefix):
                continue
            if all(pair in entry.labels for pair in wanted):
                found.append(packer.unpack(entry.packed))
        return found

    def _index_key(self, labels: tuple[str, ...]) -> str | None:
        """The ``key=value`` of the indexed label among ``labels``, if any."""
        if self._index_prefix:
            return next((pair for pair in labels if pair.startswith(self._index_prefix)), None)
        return None

    def _index_add(self, kind: Kind, name: ObjectName, entry: _Entry) -> None:
        if (key := self._index_key(entry.labels)) is not None:
            names = self._indexed[kind].get(key, ())
            if name not in names:
                self._indexed[kind][key] = tuple(sorted((*names, name)))

    def _index_remove(self, kind: Kind, name: ObjectName, entry: _Entry) -> None:
        if (key := self._index_key(entry.labels)) is not None and name in (names := self._indexed[kind].get(key, ())):
            if len(names) == 1:
                del self._indexed[kind][key]
            else:
                self._indexed[kind][key] = tuple(n for n in names if n != name)

    # -- list and watch --------------------------------------------------------------------------

    async def _run(self, kind: Kind) -> None:
        backoff = BACKOFF_FIRST
        while True:
            try:
                version = await self._list(kind)
                self._mark(kind, True)
                backoff = BACKOFF_FIRST
                while True:
                    version = await self._watch(kind, version)
            except asyncio.CancelledError:
                raise
            except Expired:
                log.info("watch expired; listing again", extra={"cluster": self.name, "kind": kind[1]})
            except NotFound:
                # The kind is not served (yet): nothing of it exists. Look again later.
                self._replace(kind, [])
                self._mark(kind, True)
                await asyncio.sleep(BACKOFF_MAX)
            except Exception as error:
                self._mark(kind, False)
                level = logging.INFO if isinstance(error, KubeError) else logging.WARNING
                log.log(level, "watch failed; listing again after a pause",
                        extra={"cluster": self.name, "kind": kind[1], "error": str(error), "retry_in": backoff})
                await asyncio.sleep(random.uniform(backoff / 2, backoff))
                backoff = min(2 * backoff, BACKOFF_MAX)

    def _mark(self, kind: Kind, synced: bool) -> None:
        if synced:
            self._synced.add(kind)
        else:
            self._synced.discard(kind)
        self._changed.set()

    def _selecting(self) -> tuple[tuple[str, str], ...]:
        """The label selector's query parameter; none for an empty selector (every object)."""
        return (("labelSelector", self.selector),) if self.selector else ()

    async def _list(self, kind: Kind) -> str:
        """Lists every page; replaces the kind's objects; returns the list's resourceVersion."""
        client = await self._client()
        resource = await client.resource(*kind)
        items: list[Object] = []
        token, version = "", ""
        while True:
            query = [*self._selecting(), ("limit", str(PAGE_SIZE))]
            if token:
                query.append(("continue", token))
            page = await client.request("GET", resource.collection_path(), what=f"listing {kind[1]}", query=query)
            items += page.get("items") or []
            metadata = page.get("metadata") or {}
            version = str(metadata.get("resourceVersion") or version)
            token = metadata.get("continue") or ""
            if not token:
                break
        self._replace(kind, items)
        return version

    def _replace(self, kind: Kind, items: Iterable[Object]) -> None:
        """The kind's objects become ``items``; handlers hear of every difference."""
        before = self._objects[kind]
        self._revisions[kind] += 1
        listed = [slim({"apiVersion": kind[0], "kind": kind[1], **item}) for item in items]
        packer = self._packers[kind]
        after = {_name(obj): self._label_sets.entry(obj, packer) for obj in listed}
        self._objects[kind] = after
        indexed: dict[str, list[ObjectName]] = {}
        for name, entry in after.items():
            if (key := self._index_key(entry.labels)) is not None:
                indexed.setdefault(key, []).append(name)
        self._indexed[kind] = {key: tuple(sorted(names)) for key, names in indexed.items()}
        for obj in listed:
            name = _name(obj)
            old = before.get(name)
            if old is None:
                self._notify("ADDED", obj)
            elif old.packed != after[name].packed:
                self._notify("MODIFIED", obj)
        for name, entry in before.items():
            if name not in after:
                self._notify("DELETED", packer.unpack(entry.packed))
        self._prune_label_sets()
        self._reseed_if_due(kind)

    def _reseed_if_due(self, kind: Kind) -> None:
        """Packs the kind's objects against a better dictionary when its packer says it is time
        (``packing``); every packed text of the kind is replaced at once, so comparing packed texts
        still tells a change."""
        objects, packer = self._objects[kind], self._packers[kind]
        if not packer.reseed_due(len(objects)):
            return
        names = list(objects)
        repacked = packer.reseed([objects[name].packed for name in names])
        if repacked is not None:
            for name, packed in zip(names, repacked, strict=True):
                objects[name] = objects[name]._replace(packed=packed)

    def _prune_label_sets(self) -> None:
        """Drops the label sets no cached object carries, once they outnumber the objects twice over."""
        if len(self._label_sets) > 2 * sum(len(objects) for objects in self._objects.values()) + LABEL_SETS_SLACK:
            self._label_sets.keep_only(entry.labels for objects in self._objects.values() for entry in objects.values())

    async def _watch(self, kind: Kind, version: str) -> str:
        """Follows one watch from ``version``; returns the version to resume from when it ends."""
        client = await self._client()
        resource = await client.resource(*kind)
        seconds = random.randint(*WATCH_SECONDS)
        query = [("watch", "true"), *self._selecting(), ("resourceVersion", version),
                 ("allowWatchBookmarks", "true"), ("timeoutSeconds", str(seconds))]
        started, heard = time.monotonic(), False
        try:
            async with asyncio.timeout(seconds + WATCH_GRACE):
                async for event in client.watch(resource.collection_path(), what=f"watching {kind[1]}", query=query):
                    version = self._apply(kind, event) or version
                    heard = True
        except TimeoutError:
            raise KubeError(f"the watch of {kind[1]} on {self.name} went silent") from None
        except KubeError as error:
            if error.status == 410:  # some servers refuse a too-old version with the status itself
                raise Expired() from None
            raise
        if not heard and time.monotonic() - started < SHORT_WATCH:
            # As client-go: a server that ends watches at once is failing; do not spin on it.
            raise KubeError(f"the watch of {kind[1]} on {self.name} ended at once")
        return version

    def _apply(self, kind: Kind, event: Mapping[str, Any]) -> str:
        """Applies one watch event; the resourceVersion it carries."""
        kind_of_event = event.get("type")
        raw = event.get("object") or {}
        if kind_of_event == "ERROR":
            if raw.get("code") == 410:
                raise Expired()
            raise KubeError(f"the watch of {kind[1]} on {self.name} failed: {raw.get('message', raw)}")
        if kind_of_event == "BOOKMARK":
            return _version(raw)
        obj = slim({"apiVersion": kind[0], "kind": kind[1], **raw})
        objects = self._objects[kind]
        self._revisions[kind] += 1
        if kind_of_event == "DELETED":
            # Handlers get the copy they knew: an object that left the selector because its labels
            # were edited arrives with the new labels, and the old ones say whose it was.
            name = _name(obj)
            known = objects.pop(name, None)
            if known is not None:
                self._index_remove(kind, name, known)
            told = self._packers[kind].unpack(known.packed) if known is not None else obj
        elif kind_of_event in ("ADDED", "MODIFIED"):
            name, entry = _name(obj), self._label_sets.entry(obj, self._packers[kind])
            if (before := objects.get(name)) is not None:
                self._index_remove(kind, name, before)
            objects[name] = entry
            self._index_add(kind, name, entry)
            self._prune_label_sets()
            self._reseed_if_due(kind)
            told = obj
        else:
            return ""
        self._notify(str(kind_of_event), told)
        return _version(obj)

    def _notify(self, kind_of_event: str, obj: Object) -> None:
        for handler in self._handlers:
            try:
                handler(kind_of_event, obj)
            except Exception:
                log.exception("a cache handler failed", extra={"cluster": self.name})
