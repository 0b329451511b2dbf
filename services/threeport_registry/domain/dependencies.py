"""Validation of an application's dependencies: names, types, classes and type-specific params.

Params per type (unknown params are rejected, so that typos are caught):

===========  ==========================================================================
type         params
===========  ==========================================================================
postgres     ``version`` (e.g. ``"16"``), ``database`` (a SQL identifier)
mysql        ``version``, ``database``
redis        ``version``
bucket       ``versioning`` (bool)
secret       ``keys`` (required): a list of key names, ``[A-Za-z_][A-Za-z0-9_-]*``; ``name``: the
             secret's name in the cloud store, for an ``external-secrets`` ServiceClass, which
             syncs that existing secret (default ``<project>/<environment>/<app>/<dependency>``)
ingress      ``component`` and ``port`` (required; a component of this app and one of its
             port names or numbers), ``host`` (DNS name, ``*.`` allowed) or ``dns`` (a ``dns``
             dependency whose name to use), ``path`` (starts with ``/``), ``tls`` (bool)
application  ``application`` (required, the other app's id), ``component``, ``port``
dns          ``host`` (a DNS name; empty: the platform picks one)
metrics      none
logging      none
===========  ==========================================================================
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType

from google.protobuf import struct_pb2

from threeport.registry.v1alpha1 import application_pb2
from threeport_model import names
from threeport_model.dependency_types import DEPENDENCY_TYPES, SECRET_KEY, known_types
from threeport_registry.domain import field_paths as fp

DEFAULT_CLASS = "default"
_VERSION = re.compile(r"[0-9]+(\.[0-9]+){0,2}")
_SQL_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")

# The dependency types the addon catalog adds (an Addon that `provides` them), with their output
# names; the registry learns them from the addon-manager (``reconcilers/addon_types.py``).
ProvidedTypes = Mapping[str, frozenset[str]]
NO_PROVIDED_TYPES: ProvidedTypes = MappingProxyType({})

ParamCheck = Callable[[struct_pb2.Value, str, fp.Violations, application_pb2.ApplicationSpec], None]


def dependency_class(dependency: application_pb2.Dependency) -> str:
    """The dependency's ``class`` (a Python keyword, hence the indirection)."""
    value: str = getattr(dependency, "class")
    return value


def validate_dependencies(
    spec: application_pb2.ApplicationSpec,
    path: str,
    violations: fp.Violations,
    provided: ProvidedTypes = NO_PROVIDED_TYPES,
) -> None:
    """Checks ``spec.dependencies`` (``path`` is the path of ``spec``)."""
    for name, dependency in spec.dependencies.items():
        at = fp.key(fp.child(path, "dependencies"), name)
        if error := names.check_id(name):
            violations.add(at, f"dependency name {error}")
        _validate_one(dependency, at, violations, spec, provided)


def _validate_one(
    dependency: application_pb2.Dependency,
    at: str,
    violations: fp.Violations,
    spec: application_pb2.ApplicationSpec,
    provided: ProvidedTypes,
) -> None:
    type_name = dependency.type
    if type_name not in DEPENDENCY_TYPES and type_name not in provided:
        shown = f"unknown type {type_name!r}" if type_name else "is required"
        choices = ", ".join(sorted(set(known_types()) | set(provided)))
        violations.add(fp.child(at, "type"), f"{shown}; use one of {choices}")
    class_name = dependency_class(dependency)
    if class_name and (error := names.check_id(class_name)):
        violations.add(fp.child(at, "class"), f"class {error} (empty means {DEFAULT_CLASS!r})")
    checks = _PARAMS.get(type_name)
    if checks is None:
        return
    params_at = fp.child(at, "params")
    given = dependency.params.fields
    for param in given:
        if param not in checks:
            allowed = ", ".join(sorted(checks)) or "none"
            violations.add(
                fp.child(params_at, param),
                f"unknown parameter {param!r} for type {type_name}; allowed: {allowed}",
            )
    for param in _REQUIRED.get(type_name, ()):
        if param not in given:
            violations.add(fp.child(params_at, param), f"is required for type {type_name}")
    for param, value in given.items():
        if param in checks:
            checks[param](value, fp.child(params_at, param), violations, spec)
    if type_name == "ingress" and "host" in given and "dns" in given:
        violations.add(fp.child(params_at, "dns"), "give either host or dns, not both")
    if type_name == "ingress" and "component" in given and "port" in given:
        _check_ingress_port(given["component"], given["port"], fp.child(params_at, "port"), violations, spec)


def _string(value: struct_pb2.Value, at: str, violations: fp.Violations) -> str | None:
    if value.WhichOneof("kind") != "string_value":
        violations.add(at, "must be a string")
        return None
    return value.string_value


def _version(
    value: struct_pb2.Value, at: str, violations: fp.Violations, _: application_pb2.ApplicationSpec
) -> None:
    text = _number_or_string(value)
    if text is None or not _VERSION.fullmatch(text):
        violations.add(at, 'must be a version such as "16" or "8.0"')


def _database(
    value: struct_pb2.Value, at: str, violations: fp.Violations, _: application_pb2.ApplicationSpec
) -> None:
    text = _string(value, at, violations)
    if text is not None and not _SQL_IDENTIFIER.fullmatch(text):
        violations.add(at, f"{text!r} is not a database name: use letters, digits and '_', at most 63")


def _bool(
    value: struct_pb2.Value, at: str, violations: fp.Violations, _: application_pb2.ApplicationSpec
) -> None:
    if value.WhichOneof("kind") != "bool_value":
        violations.add(at, "must be true or false")


def _id(
    value: struct_pb2.Value, at: str, violations: fp.Violations, _: application_pb2.ApplicationSpec
) -> None:
    text = _string(value, at, violations)
    if text is not None and (error := names.check_id(text)):
        violations.add(at, error)


def _host(
    value: struct_pb2.Value, at: str, violations: fp.Violations, _: application_pb2.ApplicationSpec
) -> None:
    text = _string(value, at, violations)
    if text is not None and (error := names.check_dns_name(text, allow_wildcard=True)):
        violations.add(at, error)


_SECRET_NAME = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}")


def _secret_name(
    value: struct_pb2.Value, at: str, violations: fp.Violations, _: application_pb2.ApplicationSpec
) -> None:
    text = _string(value, at, violations)
    if text is not None and not _SECRET_NAME.fullmatch(text):
        violations.add(at, f"{text!r} is not a secret name: use 1 to 512 letters, digits and /_+=.@- "
                           "(e.g. ledger/prod/stripe)")


def _path(
    value: struct_pb2.Value, at: str, violations: fp.Violations, _: application_pb2.ApplicationSpec
) -> None:
    text = _string(value, at, violations)
    if text is not None and not text.startswith("/"):
        violations.add(at, f"{text!r} must start with '/'")


def _port_value(
    value: struct_pb2.Value, at: str, violations: fp.Violations, _: application_pb2.ApplicationSpec
) -> None:
    text = _number_or_string(value)
    if text is None:
        violations.add(at, "must be a port name or number")
    elif not text.isdigit() and (error := names.check_port_name(text)):
        violations.add(at, error)
    elif text.isdigit() and not 0 < int(text) < 65536:
        violations.add(at, f"{text} is not a port number: use 1-65535")


def _component(
    value: struct_pb2.Value, at: str, violations: fp.Violations, spec: application_pb2.ApplicationSpec
) -> None:
    text = _string(value, at, violations)
    if text is not None and text not in spec.components:
        known = ", ".join(sorted(spec.components)) or "none"
        violations.add(at, f"{text!r} is not a component of this application; components: {known}")


def _dns_dependency(
    value: struct_pb2.Value, at: str, violations: fp.Violations, spec: application_pb2.ApplicationSpec
) -> None:
    text = _string(value, at, violations)
    if text is None:
        return
    dns = sorted(n for n, d in spec.dependencies.items() if d.type == "dns")
    if text not in dns:
        violations.add(
            at,
            f"{text!r} is not a dns dependency of this application; dns dependencies: "
            f"{', '.join(dns) or 'none'}",
        )


def _keys(
    value: struct_pb2.Value, at: str, violations: fp.Violations, _: application_pb2.ApplicationSpec
) -> None:
    if value.WhichOneof("kind") != "list_value" or not value.list_value.values:
        violations.add(at, "must be a non-empty list of key names, e.g. [api-key, token]")
        return
    seen: set[str] = set()
    for position, item in enumerate(value.list_value.values):
        item_at = fp.index(at, position)
        text = _string(item, item_at, violations)
        if text is None:
            continue
        if not SECRET_KEY.fullmatch(text):
            violations.add(
                item_at,
                f"{text!r} is not a key name: use letters, digits, '_' and '-', "
                "starting with a letter or '_'",
            )
        elif text in seen:
            violations.add(item_at, f"key {text!r} is listed twice")
        seen.add(text)


def _check_ingress_port(
    component: struct_pb2.Value,
    port: struct_pb2.Value,
    at: str,
    violations: fp.Violations,
    spec: application_pb2.ApplicationSpec,
) -> None:
    component_name = component.string_value
    wanted = _number_or_string(port)
    if component_name not in spec.components or wanted is None:
        return  # already reported
    ports = spec.components[component_name].ports
    if not any(p.name == wanted or str(p.port) == wanted for p in ports):
        declared = ", ".join(f"{p.name} ({p.port})" for p in ports) or "none"
        violations.add(at, f"component {component_name!r} has no port {wanted!r}; its ports: {declared}")


def _number_or_string(value: struct_pb2.Value) -> str | None:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "number_value" and value.number_value == int(value.number_value):
        return str(int(value.number_value))
    if kind == "number_value":
        return repr(value.number_value)
    return None


_PARAMS: Mapping[str, Mapping[str, ParamCheck]] = {
    "postgres": {"version": _version, "database": _database},
    "mysql": {"version": _version, "database": _database},
    "redis": {"version": _version},
    "bucket": {"versioning": _bool},
    "secret": {"keys": _keys, "name": _secret_name},
    "ingress": {
        "component": _component,
        "port": _port_value,
        "host": _host,
        "dns": _dns_dependency,
        "path": _path,
        "tls": _bool,
    },
    "application": {"application": _id, "component": _id, "port": _port_value},
    "dns": {"host": _host},
    "metrics": {},
    "logging": {},
}
_REQUIRED: Mapping[str, tuple[str, ...]] = {
    "secret": ("keys",),
    "ingress": ("component", "port"),
    "application": ("application",),
}
