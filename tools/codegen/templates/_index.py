"""The shapes of the resource index: which messages are resources, and which methods serve them.

The generated ``threeport.sdk.resources`` module fills a :class:`ResourceIndex` from the
``(threeport.common.v1alpha1.resource)`` options in the protos. The CLI uses it to turn what a
person types (``app``, ``applications``, ``Application``, ``projects/acme/applications/shop``)
into the message class and the client methods to call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message


@dataclass(frozen=True)
class MethodRef:
    """One RPC as the SDK exposes it.

    Attributes:
        path: the gRPC method path, ``/threeport.registry.v1alpha1.ApplicationService/GetApplication``.
        client_path: attribute names from a client to the sub-client, e.g. ``("application",)``
            or ``("internal", "cluster_claim")``.
        python_name: the sub-client method, e.g. ``get_application``.
        request_type: the request message class.
        response_type: the response message class.
        idempotent: the method's policy says repeating it is safe.
        internal: service-to-service only; the gateway does not route it.
    """

    path: str
    client_path: tuple[str, ...]
    python_name: str
    request_type: type[Message]
    response_type: type[Message]
    idempotent: bool
    internal: bool

    def bind(self, client: object) -> Callable[..., Any]:
        """The bound method on ``client`` (a ``Client`` or ``AsyncClient``)."""
        target: object = client
        for attribute in self.client_path:
            target = getattr(target, attribute)
        method: Callable[..., Any] = getattr(target, self.python_name)
        return method


@dataclass(frozen=True)
class ResourceType:
    """A resource type and its standard methods (None where the API has no such method).

    ``list_items_field`` names the repeated field of the List response and ``watch_field`` the
    resource field of a Watch response.
    """

    type_name: str
    kind: str
    singular: str
    plural: str
    short_names: tuple[str, ...]
    patterns: tuple[str, ...]
    message_type: type[Message]
    get: MethodRef | None = None
    list: MethodRef | None = None
    create: MethodRef | None = None
    update: MethodRef | None = None
    delete: MethodRef | None = None
    watch: MethodRef | None = None
    list_items_field: str = ""
    watch_field: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        """Every form a person may use for this type, as written in the protos."""
        forms = (self.kind, self.singular, self.plural, *self.short_names, self.type_name)
        return tuple(form for form in forms if form)

    def matches(self, name: str) -> bool:
        """True when ``name`` fits one of the type's name patterns."""
        return any(pattern_matches(pattern, name) for pattern in self.patterns)

    def parent_of(self, name: str) -> str:
        """The collection's parent of ``name`` (``projects/acme`` for an application), or ``""``."""
        return parent_of(name)


def pattern_matches(pattern: str, name: str) -> bool:
    """``projects/{project}/applications/{application}`` matches ``projects/a/applications/b``."""
    wanted, given = pattern.split("/"), name.split("/")
    if len(wanted) != len(given):
        return False
    for expected, actual in zip(wanted, given, strict=True):
        if not actual:
            return False
        is_variable = expected.startswith("{") and expected.endswith("}")
        if not is_variable and expected != actual:
            return False
    return True


def parent_of(name: str) -> str:
    """Drops the final ``collection/id`` pair of a resource name."""
    return "/".join(name.split("/")[:-2])


def _fold(word: str) -> str:
    # `roleBindings`, `RoleBindings`, `role-bindings` and `role_bindings` are the same word.
    return word.replace("-", "").replace("_", "").lower()


class ResourceIndex:
    """Looks resource types up by any of their names or by a resource name."""

    def __init__(self, types: Iterable[ResourceType]) -> None:
        self.types: tuple[ResourceType, ...] = tuple(types)
        self._by_word: dict[str, list[ResourceType]] = {}
        for resource_type in self.types:
            for form in resource_type.names:
                found = self._by_word.setdefault(_fold(form), [])
                if resource_type not in found:
                    found.append(resource_type)

    def find(self, word: str) -> ResourceType | None:
        """The type called ``word`` (kind, singular, plural, short name or type), or None.

        Matching ignores case, ``-`` and ``_``. A word two types use is ambiguous: None.
        """
        found = self._by_word.get(_fold(word), [])
        return found[0] if len(found) == 1 else None

    def lookup(self, word: str) -> ResourceType:
        """Like :meth:`find`, but raises ``LookupError`` saying what is known."""
        found = self._by_word.get(_fold(word), [])
        if len(found) == 1:
            return found[0]
        if found:
            kinds = ", ".join(t.type_name for t in found)
            raise LookupError(f"{word!r} is ambiguous: it names {kinds}")
        known = ", ".join(sorted(t.plural for t in self.types))
        raise LookupError(f"unknown resource type {word!r}; known types: {known}")

    def matching(self, name: str) -> tuple[ResourceType, ...]:
        """Every type whose pattern fits the resource name ``name``."""
        return tuple(t for t in self.types if t.matches(name))

    def for_name(self, name: str) -> ResourceType:
        """The one type whose pattern fits ``name``; raises ``LookupError`` otherwise."""
        found = self.matching(name)
        if len(found) == 1:
            return found[0]
        if found:
            kinds = ", ".join(t.type_name for t in found)
            raise LookupError(f"resource name {name!r} is ambiguous: it fits {kinds}")
        raise LookupError(f"{name!r} is not the name of any known resource type")

    def by_type(self, type_name: str) -> ResourceType:
        """The type whose ``type`` is exactly ``type_name`` (``threeport.io/Application``)."""
        found = next((t for t in self.types if t.type_name == type_name), None)
        if found is None:
            raise LookupError(f"unknown resource type {type_name!r}")
        return found

    def for_message(self, message_type: type[Message]) -> ResourceType | None:
        """The type whose message class is ``message_type``, if it is a resource."""
        full_name = message_type.DESCRIPTOR.full_name
        return next((t for t in self.types if t.message_type.DESCRIPTOR.full_name == full_name), None)
