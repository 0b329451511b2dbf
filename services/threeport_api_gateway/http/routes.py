"""The HTTP routes of the public API, read from each method's ``google.api.http`` option.

Every public method (not ``internal``, not ``ROLE_SERVICE``) carries one rule and maybe
``additional_bindings``; the table maps ``(HTTP method, path)`` to the RPC, its body field and
its response type. Internal methods have no rule, so they cannot be reached over HTTP either.
Two rules with the same verb and template are a contract error found at start.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from google.api import annotations_pb2 as http_annotations  # type: ignore[import-untyped]
from google.api import http_pb2
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.message import Message

from threeport_api_gateway.access.methods import MethodInfo, MethodTable
from threeport_api_gateway.http.templates import PathTemplate, TemplateError

_VERBS = ("get", "put", "post", "delete", "patch")


@dataclass(frozen=True)
class Route:
    verb: str
    template: PathTemplate
    body: str
    method: MethodInfo
    response_type: type[Message]


class NoRoute(LookupError):
    """No rule matches the path (``allowed`` is empty) or none for this HTTP method."""

    def __init__(self, allowed: Iterable[str]):
        self.allowed = sorted(set(allowed))
        super().__init__(", ".join(self.allowed))


class RouteTable:
    def __init__(self, routes: Iterable[Route]):
        self._routes = list(routes)
        seen: dict[tuple[str, str], str] = {}
        for route in self._routes:
            key = (route.verb, route.template.template)
            if key in seen:
                raise TemplateError(
                    f"{route.verb} {route.template.template} is bound to both {seen[key]} and {route.method.path}"
                )
            seen[key] = route.method.path

    @classmethod
    def load(cls, methods: MethodTable) -> RouteTable:
        pool = descriptor_pool.Default()
        routes: list[Route] = []
        for info in methods.values():
            if info.internal or info.client_streaming:
                continue
            descriptor = pool.FindMethodByName(info.path.lstrip("/").replace("/", "."))
            options = descriptor.GetOptions()
            if not options.HasExtension(http_annotations.http):
                continue
            response_type = message_factory.GetMessageClass(descriptor.output_type)
            rule = options.Extensions[http_annotations.http]
            for binding in [rule, *rule.additional_bindings]:
                routes.append(_route(binding, info, response_type))
        return cls(routes)

    def __iter__(self) -> Iterator[Route]:
        return iter(self._routes)

    def resolve(self, verb: str, path: str) -> tuple[Route, dict[str, str]]:
        """The route and its path variables; NoRoute naming the verbs the path allows."""
        allowed: list[str] = []
        for route in self._routes:
            variables = route.template.match(path)
            if variables is None:
                continue
            if route.verb == verb:
                return route, variables
            allowed.append(route.verb)
        raise NoRoute(allowed)


def _route(rule: http_pb2.HttpRule, info: MethodInfo, response_type: type[Message]) -> Route:
    verb = rule.WhichOneof("pattern")
    if verb not in _VERBS:
        raise TemplateError(f"{info.path}: HTTP rule {verb!r} is not one of {', '.join(_VERBS)}")
    template = PathTemplate.parse(getattr(rule, verb))
    return Route(verb.upper(), template, rule.body, info, response_type)
