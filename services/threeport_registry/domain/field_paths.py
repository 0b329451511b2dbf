"""How field violations name the field they are about.

The scheme, used by every validator in this package (the CLI shows these paths next to the
manifest, so they must be stable and predictable):

- Paths start at the request: ``application.spec...``, ``environment.spec...``, ``build.spec...``,
  or a request field such as ``application_id``.
- Message fields are joined with ``.`` and spelled as in the proto (snake_case):
  ``application.spec.placement.cluster_labels``.
- Proto map keys and list indices go in brackets: ``application.spec.components[api].ports[0].port``,
  ``application.labels[app.kubernetes.io/name]``. A key that is empty or contains a bracket or a
  double quote is written JSON-quoted: ``labels["a]b"]``.
- Keys of a ``google.protobuf.Struct`` (dependency ``params``) are documented parameter names, so
  they are joined with ``.`` like fields: ``application.spec.dependencies[web].params.port``.
"""

from __future__ import annotations

import json

from threeport_runtime.errors import FieldViolation, InvalidArgument


def child(parent: str, name: str) -> str:
    """The path of field ``name`` of the message at ``parent``."""
    return f"{parent}.{name}" if parent else name


def key(parent: str, map_key: str) -> str:
    """The path of the map entry ``map_key`` of the map at ``parent``."""
    if map_key == "" or any(c in map_key for c in '[]"'):
        return f"{parent}[{json.dumps(map_key)}]"
    return f"{parent}[{map_key}]"


def index(parent: str, position: int) -> str:
    """The path of list element ``position`` of the list at ``parent``."""
    return f"{parent}[{position}]"


class Violations:
    """Collects every violation of a request, so that users can fix them all in one go."""

    def __init__(self) -> None:
        self._found: list[FieldViolation] = []

    def add(self, field: str, description: str) -> None:
        self._found.append(FieldViolation(field, description))

    def extend(self, violations: list[FieldViolation]) -> None:
        self._found.extend(violations)

    def __bool__(self) -> bool:
        return bool(self._found)

    def as_list(self) -> list[FieldViolation]:
        return list(self._found)

    def raise_if_any(self) -> None:
        """Raises INVALID_ARGUMENT listing every violation, if there is any."""
        if self._found:
            raise InvalidArgument.for_fields(self._found)
