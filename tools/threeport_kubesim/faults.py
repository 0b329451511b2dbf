"""Injected faults of one simulated cluster: failing image pulls, added latency and failing requests.
("Unreachable" is not state here: the cluster closes its listening socket.)"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

from threeport_kubesim.errors import ApiError

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    410: "Expired",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


@dataclass(slots=True)
class FailRule:
    """Fail the next `remaining` requests matching verb/resource/namespace (empty matches any)."""

    status: int
    remaining: int
    verb: str = ""
    resource: str = ""
    namespace: str = ""
    message: str = "injected failure"

    def matches(self, verb: str, resource: str, namespace: str) -> bool:
        return (
            (not self.verb or self.verb == verb)
            and (not self.resource or self.resource == resource)
            and (not self.namespace or self.namespace == namespace)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "remaining": self.remaining,
            "verb": self.verb,
            "resource": self.resource,
            "namespace": self.namespace,
            "message": self.message,
        }


@dataclass(slots=True)
class FaultState:
    failing_images: set[str] = field(default_factory=set)
    latency_seconds: float = 0.0
    fail_rules: list[FailRule] = field(default_factory=list)

    def image_fails(self, image: str) -> bool:
        return any(image == pattern or fnmatch.fnmatchcase(image, pattern) for pattern in self.failing_images)

    def take_failure(self, verb: str, resource: str, namespace: str) -> ApiError | None:
        for rule in self.fail_rules:
            if rule.remaining > 0 and rule.matches(verb, resource, namespace):
                rule.remaining -= 1
                if rule.remaining == 0:
                    self.fail_rules.remove(rule)
                return ApiError(rule.status, _REASONS.get(rule.status, "InternalError"), rule.message)
        return None

    def clear(self) -> None:
        self.failing_images.clear()
        self.latency_seconds = 0.0
        self.fail_rules.clear()

    def to_json(self) -> dict[str, Any]:
        return {
            "failing_images": sorted(self.failing_images),
            "latency_ms": int(self.latency_seconds * 1000),
            "fail_requests": [r.to_json() for r in self.fail_rules],
        }
