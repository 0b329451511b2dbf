"""The semantics of the Kubernetes API for one cluster, independent of HTTP: create, update, patch,
apply, delete with preconditions, generation, finalizers, status/scale subresources and dry-run.

The REST layer and the simulated controllers both go through this class, so a controller write is
subject to the same rules (namespace lifecycle, optimistic concurrency) as a client write.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

import orjson
import yaml

from threeport_kubesim import errors, schemas
from threeport_kubesim.defaults import apply_defaults
from threeport_kubesim.errors import ApiError
from threeport_kubesim.fieldmanager import record_update, server_side_apply
from threeport_kubesim.meta import clone, new_uid, now_rfc3339, random_suffix
from threeport_kubesim.patching import apply_json_patch, apply_merge_patch, apply_strategic_merge_patch
from threeport_kubesim.resources import ResourceRegistry, ResourceType
from threeport_kubesim.selectors import LabelSelector, format_label_selector
from threeport_kubesim.store import ObjectStore, StoredObject
from threeport_kubesim.validation import require_object, validate, validate_update

NAMESPACES = ("", "namespaces")
# Resources whose DELETE answers with the object rather than a Status, as kube-apiserver does.
RETURNS_DELETED_OBJECT = {
    ("", "pods"),
    ("", "services"),
    ("", "persistentvolumeclaims"),
    ("", "serviceaccounts"),
    ("", "persistentvolumes"),
}
CONTROLLER_MANAGER = "kube-controller-manager"

APPLY_PATCH = "application/apply-patch+yaml"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(slots=True)
class WriteOptions:
    manager: str = ""
    dry_run: bool = False
    subresource: str = ""
    # "" is the main resource, "status"/"scale" the subresources, and "all" lets simulated
    # controllers write spec and status at once (what kubelet's binding + status update achieve).
    # Simulated controllers skip managedFields bookkeeping: it is costly at scale and no client
    # contends for the status fields they write.
    track_fields: bool = True
    # fieldValidation: Strict refuses unknown fields (400), Warn and Ignore drop them.
    field_validation: str = schemas.WARN
    # What the request's answer carries in `Warning` headers (unknown fields dropped under Warn).
    warnings: list[str] = field(default_factory=list)


def _apply_configuration(body: bytes) -> Any:
    """An apply patch's body: YAML, of which JSON is a subset. Clients mostly send JSON, which
    orjson reads tens of times faster than PyYAML's pure-Python scanner (the emulator's busiest
    parse); anything else is read as YAML, with libyaml when it is there."""
    if body.lstrip()[:1] == b"{":
        with contextlib.suppress(orjson.JSONDecodeError):
            return orjson.loads(body)
    try:
        return yaml.load(body or b"{}", Loader=_YAML_LOADER)  # a safe loader (C when built with libyaml)
    except yaml.YAMLError as exc:
        raise errors.bad_request(f"error decoding YAML: {exc}") from exc


class IpAllocator:
    """Hands out ClusterIPs, NodePorts and load-balancer addresses, never reusing one while alive."""

    def __init__(self) -> None:
        self.next_cluster_ip = 10
        self.next_node_port = 30000
        self.next_lb_ip = 1

    def cluster_ip(self) -> str:
        n = self.next_cluster_ip
        self.next_cluster_ip += 1
        return f"10.96.{n // 250}.{n % 250 + 1}"

    def node_port(self) -> int:
        port = self.next_node_port
        self.next_node_port = 30000 + (self.next_node_port - 29999) % 2768
        return port

    def load_balancer_ip(self) -> str:
        n = self.next_lb_ip
        self.next_lb_ip += 1
        return f"172.18.{200 + n // 250}.{n % 250 + 1}"

    def skip_used(self, services: list[dict[str, Any]]) -> None:
        """After a restore, hand out only addresses and ports the restored Services do not hold."""
        for service in services:
            spec = service.get("spec") or {}
            ip = str(spec.get("clusterIP") or "").split(".")
            if len(ip) == 4 and ip[:2] == ["10", "96"] and ip[2].isdigit() and ip[3].isdigit():
                self.next_cluster_ip = max(self.next_cluster_ip, int(ip[2]) * 250 + int(ip[3]))
            for port in spec.get("ports") or []:
                node_port = port.get("nodePort") if isinstance(port, dict) else None
                if isinstance(node_port, int) and node_port >= self.next_node_port:
                    self.next_node_port = 30000 + (node_port - 29999) % 2768
            for ingress in ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
                lb = str(ingress.get("ip") or "").split(".")
                if len(lb) == 4 and lb[:2] == ["172", "18"] and lb[2].isdigit() and lb[3].isdigit():
                    self.next_lb_ip = max(self.next_lb_ip, (int(lb[2]) - 200) * 250 + int(lb[3]))


def _strip_volatile(obj: dict[str, Any]) -> dict[str, Any]:
    clone = dict(obj)
    metadata = dict(clone.get("metadata") or {})
    metadata.pop("resourceVersion", None)
    # Ownership changes are real changes; a refreshed timestamp alone is not.
    metadata["managedFields"] = [
        {k: v for k, v in entry.items() if k != "time"} for entry in metadata.get("managedFields") or []
    ]
    clone["metadata"] = metadata
    return clone


def _spec_part(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


class ApiServer:
    def __init__(self, store: ObjectStore, registry: ResourceRegistry) -> None:
        self.store = store
        self.registry = registry
        self.ips = IpAllocator()

    # ----- reads -------------------------------------------------------------------------------

    def get(self, rtype: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        stored = self.store.get(rtype.key, namespace, name)
        if stored is None:
            raise errors.not_found(rtype.resource, rtype.group, name)
        return self._as_served(rtype, stored.decode())

    def get_stored(self, rtype: ResourceType, namespace: str, name: str) -> StoredObject:
        stored = self.store.get(rtype.key, namespace, name)
        if stored is None:
            raise errors.not_found(rtype.resource, rtype.group, name)
        return stored

    def _as_served(self, rtype: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        # Custom resources may be served at several versions; storage keeps one.
        obj["apiVersion"] = rtype.api_version
        return obj

    # ----- create ------------------------------------------------------------------------------

    def _check_namespace(self, rtype: ResourceType, namespace: str) -> None:
        if not rtype.namespaced:
            return
        ns = self.store.get_object(NAMESPACES, "", namespace)
        if ns is None:
            raise errors.not_found("namespaces", "", namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise ApiError(
                403,
                "Forbidden",
                f'{rtype.resource} "{""}" is forbidden: unable to create new content '
                f"in namespace {namespace} because it is being terminated",
                {
                    "name": "",
                    "kind": rtype.resource,
                    "group": rtype.group,
                    "causes": [
                        {
                            "reason": "NamespaceTerminating",
                            "message": f"namespace {namespace} is being terminated",
                            "field": "metadata.namespace",
                        }
                    ],
                },
            )

    def create(
        self,
        rtype: ResourceType,
        namespace: str,
        body: Any,
        options: WriteOptions,
        preset_managed_fields: bool = False,
    ) -> dict[str, Any]:
        obj = clone(require_object(body))
        metadata = obj.setdefault("metadata", {})
        if not isinstance(metadata, dict):
            raise errors.bad_request("metadata must be an object")
        self._check_kind(rtype, obj)
        if rtype.namespaced:
            if metadata.get("namespace") and metadata["namespace"] != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            metadata["namespace"] = namespace
        else:
            metadata.pop("namespace", None)
        if not metadata.get("name") and metadata.get("generateName"):
            for _ in range(8):
                candidate = f"{metadata['generateName']}{random_suffix()}"
                if self.store.get(rtype.key, namespace, candidate) is None:
                    metadata["name"] = candidate
                    break
        for volatile in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            metadata.pop(volatile, None)
        metadata["uid"] = new_uid()
        metadata["creationTimestamp"] = now_rfc3339()
        if rtype.has_generation or rtype.custom:
            metadata["generation"] = 1
        else:
            metadata.pop("generation", None)
        if rtype.has_status and rtype.kind not in (
            "Namespace",
            "PersistentVolumeClaim",
            "Node",
            "CustomResourceDefinition",
        ):
            obj.pop("status", None)
        self._prepare_job(rtype, obj)
        apply_defaults(rtype, obj)
        validate(rtype, obj, self._admit(rtype, obj, options))
        self._check_namespace(rtype, namespace)
        name = metadata["name"]
        if self.store.get(rtype.key, namespace if rtype.namespaced else "", name) is not None:
            raise errors.already_exists(rtype.resource, rtype.group, name)
        self._allocate_service(rtype, obj, None)
        if options.track_fields and not preset_managed_fields:
            metadata.pop("managedFields", None)
            record_update(rtype, None, obj, options.manager, options.subresource, metadata["creationTimestamp"])
        if options.dry_run:
            return obj
        self.store.write(rtype.key, obj, None)
        return obj

    def _admit(
        self, rtype: ResourceType, obj: dict[str, Any], options: WriteOptions, old: dict[str, Any] | None = None
    ) -> list[tuple[str, str, str]]:
        """The schema check of a client write (simulated controllers write what they built, and
        custom resources have no published schema): raises decoding errors, returns 422 causes."""
        if not options.track_fields or rtype.custom:
            return []
        admission = schemas.admit(obj, options.field_validation, old)
        options.warnings += [w for w in admission.warnings if w not in options.warnings]
        return [(p.reason, p.field, p.message) for p in admission.invalid]

    def _check_kind(self, rtype: ResourceType, obj: dict[str, Any]) -> None:
        kind = obj.get("kind")
        if kind and kind != rtype.kind:
            raise errors.bad_request(
                f"the API version in the data ({obj.get('apiVersion')}) and kind ({kind}) "
                f"do not match the resource {rtype.resource}"
            )
        obj["kind"] = rtype.kind
        obj["apiVersion"] = rtype.api_version

    def _prepare_job(self, rtype: ResourceType, obj: dict[str, Any]) -> None:
        """Jobs get a generated selector on their own UID, as the Job strategy does."""
        if rtype.kind != "Job" or rtype.custom:
            return
        spec = obj.get("spec")
        if not isinstance(spec, dict) or spec.get("manualSelector") or spec.get("selector"):
            return
        uid = obj["metadata"]["uid"]
        spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
        template = spec.get("template")
        if isinstance(template, dict):
            labels = template.setdefault("metadata", {}).setdefault("labels", {})
            labels.update(
                {
                    "batch.kubernetes.io/controller-uid": uid,
                    "controller-uid": uid,
                    "batch.kubernetes.io/job-name": obj["metadata"]["name"],
                    "job-name": obj["metadata"]["name"],
                }
            )

    def _allocate_service(self, rtype: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if rtype.kind != "Service" or rtype.custom:
            return
        spec = obj["spec"]
        old_spec = (old or {}).get("spec") or {}
        if spec.get("type") == "ExternalName":
            return
        if not spec.get("clusterIP"):
            spec["clusterIP"] = old_spec.get("clusterIP") or self.ips.cluster_ip()
        spec.setdefault("clusterIPs", [spec["clusterIP"]] if spec["clusterIP"] != "None" else ["None"])
        if spec.get("type") in ("NodePort", "LoadBalancer"):
            old_ports = {p.get("port"): p.get("nodePort") for p in old_spec.get("ports") or []}
            for port in spec.get("ports") or []:
                if not port.get("nodePort"):
                    port["nodePort"] = old_ports.get(port.get("port")) or self.ips.node_port()
        if "status" not in obj:
            obj["status"] = {"loadBalancer": {}}

    # ----- update ------------------------------------------------------------------------------

    def update(
        self, rtype: ResourceType, namespace: str, name: str, body: Any, options: WriteOptions
    ) -> dict[str, Any]:
        new = clone(require_object(body))
        metadata = new.get("metadata")
        if not isinstance(metadata, dict):
            raise errors.bad_request("metadata is required")
        if metadata.get("name") and metadata["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({metadata['name']}) does not match the name on the URL ({name})"
            )
        old = self.get(rtype, namespace, name)
        return self.commit_update(rtype, old, new, options)

    def commit_update(
        self,
        rtype: ResourceType,
        old: dict[str, Any],
        new: dict[str, Any],
        options: WriteOptions,
        managed_fields_done: bool = False,
    ) -> dict[str, Any]:
        """Store `new` as the successor of `old`, enforcing every update rule."""
        metadata = new.setdefault("metadata", {})
        old_meta = old["metadata"]
        name = old_meta["name"]
        requested_rv = metadata.get("resourceVersion")
        if requested_rv and requested_rv != old_meta.get("resourceVersion"):
            raise errors.conflict(
                rtype.resource,
                rtype.group,
                name,
                "the object has been modified; please apply your changes to the latest version and try again",
            )
        self._check_kind(rtype, new)
        for fixed in (
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ):
            if fixed in old_meta:
                metadata[fixed] = old_meta[fixed]
            else:
                metadata.pop(fixed, None)
        if options.subresource == "status":
            status = new.get("status")
            new = clone(old) | {"status": status} if status is not None else clone(old)
            new["metadata"]["managedFields"] = metadata.get("managedFields", old_meta.get("managedFields"))
            if new["metadata"]["managedFields"] is None:
                new["metadata"].pop("managedFields")
            metadata = new["metadata"]
        elif rtype.has_status and options.subresource != "all":
            if "status" in old:
                new["status"] = clone(old["status"])
            else:
                new.pop("status", None)
        if not managed_fields_done and "managedFields" not in metadata and old_meta.get("managedFields"):
            metadata["managedFields"] = old_meta["managedFields"]
        if options.subresource != "status":
            apply_defaults(rtype, new)
            validate(rtype, new, self._admit(rtype, new, options, old))
            validate_update(rtype, old, new)
            self._allocate_service(rtype, new, old)
        if (rtype.has_generation or rtype.custom) and _spec_part(new) != _spec_part(old):
            metadata["generation"] = int(old_meta.get("generation", 1)) + 1
        if old_meta.get("deletionTimestamp"):
            added = set(metadata.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
            if added:
                raise errors.forbidden(
                    f"Forbidden: no new finalizers can be added if the object is being deleted, "
                    f"found new finalizers {sorted(added)!r}",
                    rtype.resource,
                    rtype.group,
                    name,
                )
        if options.track_fields and not managed_fields_done:
            record_update(rtype, old, new, options.manager, options.subresource, now_rfc3339())
        if _strip_volatile(new) == _strip_volatile(old):
            return old
        if options.dry_run:
            return new
        if old_meta.get("deletionTimestamp") and not metadata.get("finalizers"):
            self.store.remove(rtype.key, new)
            return new
        self.store.write(rtype.key, new, old)
        return new

    # ----- patch and apply ---------------------------------------------------------------------

    def patch(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        content_type: str,
        body: bytes,
        options: WriteOptions,
        force: bool = False,
    ) -> tuple[dict[str, Any], bool]:
        """Apply a patch of any supported type; returns (object, created)."""
        media = content_type.split(";")[0].strip().lower()
        if media == APPLY_PATCH:
            return self._apply(rtype, namespace, name, body, options, force)
        try:
            patch = json.loads(body or b"null")
        except json.JSONDecodeError as exc:
            raise errors.bad_request(f"error decoding patch: {exc}") from exc
        old = self.get(rtype, namespace, name)
        if media == JSON_PATCH:
            new = apply_json_patch(old, patch)
        elif media == MERGE_PATCH:
            new = apply_merge_patch(old, require_object(patch))
        elif media == STRATEGIC_PATCH:
            if rtype.custom:
                raise errors.unsupported_media_type(media)
            new = apply_strategic_merge_patch(rtype, old, patch)
        else:
            raise errors.unsupported_media_type(media)
        if not isinstance(new.get("metadata"), dict):
            raise errors.bad_request("metadata must remain an object")
        # A resourceVersion only constrains the write when the patch itself carries one.
        patch_meta = patch.get("metadata") if isinstance(patch, dict) else None
        if not (isinstance(patch_meta, dict) and patch_meta.get("resourceVersion")) and media != JSON_PATCH:
            new["metadata"]["resourceVersion"] = old["metadata"].get("resourceVersion")
        return self.commit_update(rtype, old, new, options), False

    def _apply(
        self, rtype: ResourceType, namespace: str, name: str, body: bytes, options: WriteOptions, force: bool
    ) -> tuple[dict[str, Any], bool]:
        if not options.manager:
            raise errors.bad_request("PATCH, application/apply-patch+yaml requests must include a fieldManager")
        applied = _apply_configuration(body)
        applied = require_object(applied)
        if not applied.get("apiVersion") or not applied.get("kind"):
            raise errors.bad_request("apiVersion and kind must be set in an applied configuration")
        if applied["kind"] != rtype.kind:
            raise errors.bad_request(
                f"the kind in the applied configuration ({applied['kind']}) does not match "
                f"the resource {rtype.resource}"
            )
        metadata = applied.setdefault("metadata", {})
        if metadata.get("name") and metadata["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({metadata['name']}) does not match the name on the URL ({name})"
            )
        metadata["name"] = name
        if rtype.namespaced:
            if metadata.get("namespace") and metadata["namespace"] != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            metadata["namespace"] = namespace
        if options.track_fields and not rtype.custom:
            # Wrong types and (under Strict) unknown fields are refused; other unknown fields are
            # dropped before anyone owns them. A partial configuration may omit required fields:
            # the merged object is checked in full when it is committed.
            options.warnings += schemas.admit(applied, options.field_validation).warnings
        now = now_rfc3339()
        stored = self.store.get(rtype.key, namespace if rtype.namespaced else "", name)
        if stored is None:
            if options.subresource:
                raise errors.not_found(rtype.resource, rtype.group, name)
            created = server_side_apply(rtype, None, applied, options.manager, force, "", now)
            created.setdefault("metadata", {})["name"] = name
            created["apiVersion"], created["kind"] = applied["apiVersion"], applied["kind"]
            return self.create(rtype, namespace, created, options, preset_managed_fields=True), True
        old = self._as_served(rtype, stored.decode())
        new = server_side_apply(rtype, old, applied, options.manager, force, options.subresource, now)
        requested_rv = metadata.get("resourceVersion")
        new["metadata"]["resourceVersion"] = requested_rv or old["metadata"].get("resourceVersion")
        return self.commit_update(rtype, old, new, options, managed_fields_done=True), False

    # ----- scale subresource -------------------------------------------------------------------

    def get_scale(self, rtype: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        if rtype.scale is None:
            raise errors.not_found(rtype.resource, rtype.group, name)
        obj = self.get(rtype, namespace, name)
        paths = rtype.scale
        selector_value = _path_get(obj, paths.label_selector) if paths.label_selector else None
        if rtype.custom:
            selector = selector_value if isinstance(selector_value, str) else ""
        else:
            selector = format_label_selector((obj.get("spec") or {}).get("selector"))
        scale: dict[str, Any] = {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: obj["metadata"][k]
                for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                if k in obj["metadata"]
            },
            "spec": {"replicas": int(_path_get(obj, paths.spec_replicas) or 0)},
            "status": {"replicas": int(_path_get(obj, paths.status_replicas) or 0)},
        }
        if selector:
            scale["status"]["selector"] = selector
        return scale

    def update_scale(
        self, rtype: ResourceType, namespace: str, name: str, scale: dict[str, Any], options: WriteOptions
    ) -> dict[str, Any]:
        if rtype.scale is None:
            raise errors.not_found(rtype.resource, rtype.group, name)
        replicas = (scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise errors.invalid(
                "Scale",
                "autoscaling",
                name,
                [("FieldValueInvalid", "spec.replicas", "must be a non-negative integer")],
            )
        old = self.get(rtype, namespace, name)
        new = clone(old)
        _path_set(new, rtype.scale.spec_replicas, replicas)
        requested_rv = (scale.get("metadata") or {}).get("resourceVersion")
        new["metadata"]["resourceVersion"] = requested_rv or old["metadata"].get("resourceVersion")
        self.commit_update(
            rtype,
            old,
            new,
            WriteOptions(options.manager, options.dry_run, "scale", options.track_fields, options.field_validation),
        )
        return self.get_scale(rtype, namespace, name) if not options.dry_run else scale

    # ----- delete ------------------------------------------------------------------------------

    def delete(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        delete_options: dict[str, Any],
        dry_run: bool = False,
    ) -> tuple[dict[str, Any], bool]:
        """Delete or start deleting; returns (object, gone_now)."""
        old = self.get(rtype, namespace, name)
        metadata = old["metadata"]
        preconditions = delete_options.get("preconditions") or {}
        if preconditions.get("uid") and preconditions["uid"] != metadata.get("uid"):
            raise errors.conflict(
                rtype.resource,
                rtype.group,
                name,
                f"Precondition failed: UID in precondition: {preconditions['uid']}, "
                f"UID in object meta: {metadata.get('uid')}",
            )
        if preconditions.get("resourceVersion") and preconditions["resourceVersion"] != metadata.get("resourceVersion"):
            raise errors.conflict(
                rtype.resource,
                rtype.group,
                name,
                "Precondition failed: ResourceVersion in precondition: "
                f"{preconditions['resourceVersion']}, ResourceVersion in object meta: "
                f"{metadata.get('resourceVersion')}",
            )
        policy = delete_options.get("propagationPolicy") or (
            "Orphan" if delete_options.get("orphanDependents") else "Background"
        )
        finalizers = list(metadata.get("finalizers") or [])
        if policy == "Foreground" and "foregroundDeletion" not in finalizers:
            finalizers.append("foregroundDeletion")
        if policy == "Orphan" and "orphan" not in finalizers:
            finalizers.append("orphan")
        is_namespace = rtype.key == NAMESPACES
        if not finalizers and not is_namespace:
            if dry_run:
                return old, True
            self.store.remove(rtype.key, old)
            return old, True
        if metadata.get("deletionTimestamp"):
            return old, False
        new = clone(old)
        new_meta = new["metadata"]
        new_meta["deletionTimestamp"] = now_rfc3339()
        new_meta["deletionGracePeriodSeconds"] = 0
        if finalizers:
            new_meta["finalizers"] = finalizers
        if is_namespace:
            new.setdefault("status", {})["phase"] = "Terminating"
        if (rtype.has_generation or rtype.custom) and "generation" in new_meta:
            new_meta["generation"] = int(new_meta["generation"]) + 1
        if dry_run:
            return new, False
        self.store.write(rtype.key, new, old)
        return new, False

    def remove_finalizer(self, rtype: ResourceType, obj: dict[str, Any], finalizer: str) -> None:
        """Used by simulated controllers (GC, namespace lifecycle) once their cleanup is done."""
        new = clone(obj)
        finalizers = [f for f in new["metadata"].get("finalizers") or [] if f != finalizer]
        if finalizers:
            new["metadata"]["finalizers"] = finalizers
        else:
            new["metadata"].pop("finalizers", None)
        new["metadata"].pop("resourceVersion", None)
        self.commit_update(rtype, obj, new, WriteOptions(CONTROLLER_MANAGER, track_fields=False))

    # ----- helpers for controllers -------------------------------------------------------------

    def list_objects(
        self, rtype: ResourceType, namespace: str | None = None, selector: LabelSelector | None = None
    ) -> list[dict[str, Any]]:
        result = []
        for _, stored in self.store.items(rtype.key, namespace):
            if selector is not None and not selector.matches(stored.labels):
                continue
            result.append(stored.decode())
        return result

    def controller_write(
        self, rtype: ResourceType, old: dict[str, Any] | None, new: dict[str, Any], subresource: str = ""
    ) -> dict[str, Any] | None:
        """Create or update on behalf of a simulated controller; returns None if it lost a race."""
        options = WriteOptions(CONTROLLER_MANAGER, subresource=subresource, track_fields=False)
        namespace = new["metadata"].get("namespace", "")
        try:
            if old is None:
                return self.create(rtype, namespace, new, options)
            return self.commit_update(rtype, old, new, options)
        except ApiError:
            return None

    def controller_delete(self, rtype: ResourceType, obj: dict[str, Any], policy: str = "Background") -> None:
        # Losing a race (already gone, or replaced by a new object of that name) is fine.
        with contextlib.suppress(ApiError):
            self.delete(
                rtype,
                obj["metadata"].get("namespace", ""),
                obj["metadata"]["name"],
                {"propagationPolicy": policy, "preconditions": {"uid": obj["metadata"]["uid"]}},
            )


def _path_get(obj: dict[str, Any], dotted: str | None) -> Any:
    node: Any = obj
    for part in (dotted or "").strip(".").split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _path_set(obj: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.strip(".").split(".")
    node = obj
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
