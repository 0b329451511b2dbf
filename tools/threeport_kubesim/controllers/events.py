"""Records core/v1 Events about objects, de-duplicating repeats by bumping `count`, and keeping at
most a bounded number per cluster (the real API server expires them after an hour)."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

from threeport_kubesim.apiserver import ApiServer
from threeport_kubesim.meta import clone, now_rfc3339
from threeport_kubesim.store import GroupResource

EVENTS: GroupResource = ("", "events")


class EventRecorder:
    def __init__(self, api: ApiServer, max_events: int = 1000) -> None:
        self.api = api
        self.max_events = max_events
        # (involved uid, reason, message) -> (namespace, event name), oldest first.
        self._recent: OrderedDict[tuple[str, str, str], tuple[str, str]] = OrderedDict()

    def record(self, obj: dict[str, Any], event_type: str, reason: str, message: str, component: str) -> None:
        if self.max_events <= 0:
            return
        rtype = self.api.registry.by_group_resource(*EVENTS)
        if rtype is None:
            return
        metadata = obj["metadata"]
        namespace = metadata.get("namespace") or "default"
        if self.api.store.get(("", "namespaces"), "", namespace) is None:
            return
        now = now_rfc3339()
        dedup = (metadata.get("uid", ""), reason, message)
        existing_ref = self._recent.get(dedup)
        if existing_ref is not None:
            existing = self.api.store.get_object(EVENTS, *existing_ref)
            if existing is not None:
                updated = clone(existing)
                updated["count"] = int(existing.get("count", 1)) + 1
                updated["lastTimestamp"] = now
                self.api.controller_write(rtype, existing, updated)
                self._recent.move_to_end(dedup)
                return
        name = f"{metadata['name']}.{time.time_ns():x}"
        event: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": {
                "kind": obj.get("kind"),
                "namespace": metadata.get("namespace", ""),
                "name": metadata["name"],
                "uid": metadata.get("uid"),
                "apiVersion": obj.get("apiVersion"),
                "resourceVersion": metadata.get("resourceVersion", ""),
            },
            "reason": reason,
            "message": message,
            "type": event_type,
            "source": {"component": component},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "reportingComponent": component,
            "reportingInstance": "",
        }
        if not metadata.get("namespace"):
            event["involvedObject"].pop("namespace")
        if self.api.controller_write(rtype, None, event) is None:
            return
        self._recent[dedup] = (namespace, name)
        while len(self._recent) > self.max_events:
            _, (old_ns, old_name) = self._recent.popitem(last=False)
            stale = self.api.store.get_object(EVENTS, old_ns, old_name)
            if stale is not None:
                self.api.store.remove(EVENTS, stale)
