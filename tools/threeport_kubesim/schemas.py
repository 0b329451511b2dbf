"""Object structure checked against the published OpenAPI schemas of the Kubernetes version the
emulator announces (the JSON schemas `kubernetes-validate` ships), reported as kube-apiserver
reports it:

- a value of the wrong type (a string for `replicas`, a number for an env `value`) is a decoding
  error: 400 BadRequest `... cannot be handled as a Deployment: json: cannot unmarshal ...`;
- an unknown field is a 400 `strict decoding error: unknown field "spec.replica"` when the request
  asks for `fieldValidation=Strict` (what kubectl sends), and is dropped otherwise (`Warn`, the
  default, and `Ignore`), as the API server drops what its types do not have;
- a missing required field or an unsupported enum value is 422 Invalid with one
  `status.details.causes` entry per field.

`validate(obj)` is the public check for tests: it raises what a strict request would get. Other
tests (addon and managed-service templates) call it on every object they render. Validators are
built once per kind and version (and top-level field); the definitions are loaded once per process.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import jsonschema

from threeport_kubesim import errors
from threeport_kubesim.discovery import KUBE_VERSION
from threeport_kubesim.errors import ApiError

SCHEMA_DIR = f"v{KUBE_VERSION['major']}.{KUBE_VERSION['minor']}.0-local-strict"
STRICT, WARN, IGNORE = "Strict", "Warn", "Ignore"
FIELD_VALIDATION = (STRICT, WARN, IGNORE)

_DECODING = "decoding"  # wrong type: the object cannot be decoded at all
_UNKNOWN = "unknown"  # a field the type does not have


@dataclass(frozen=True, slots=True)
class Problem:
    """One way an object breaks its schema. `reason` is the Status cause reason for 422s
    (FieldValueRequired, FieldValueNotSupported, FieldValueInvalid) or one of the decoding kinds."""

    reason: str
    field: str
    message: str


def _schema_files() -> Any:
    return resources.files("kubernetes_validate").joinpath("kubernetes-json-schema", SCHEMA_DIR)


@functools.cache
def _definitions() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(_schema_files().joinpath("_definitions.json").read_text())["$defs"]
    return loaded


_INLINED: dict[str, dict[str, Any]] = {}


def _inline(node: Any) -> Any:
    """The schema with every `$ref` replaced by the (shared, possibly cyclic) definition it names,
    descriptions and x-kubernetes extensions dropped: the same rules, about a third faster to
    evaluate than resolving references on every descent."""
    if isinstance(node, list):
        return [_inline(item) for item in node]
    if not isinstance(node, dict):
        return node
    reference = node.get("$ref")
    if isinstance(reference, str) and "#/$defs/" in reference:
        return _definition(reference.rsplit("/", 1)[1])
    inlined: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("description", "$id", "$schema") or key.startswith("x-"):
            continue
        if key == "properties" and isinstance(value, dict):
            # Field names are kept as they are: JSONSchemaProps has `description`, `x-kubernetes-*`...
            inlined[key] = {name: _inline(field) for name, field in value.items()}
        else:
            inlined[key] = value if key in ("enum", "required") else _inline(value)
    return inlined


def _definition(name: str) -> dict[str, Any]:
    found = _INLINED.get(name)
    if found is None:
        found = _INLINED[name] = {}  # registered first: definitions refer to themselves
        found.update(_inline(_definitions()[name]))
    return found


@functools.cache
def _validator(kind: str, api_version: str) -> jsonschema.protocols.Validator | None:
    """The validator of one kind and version, or None when no schema is published for it."""
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    source = _schema_files().joinpath(f"{kind.lower()}-{group_version}.json")
    if not source.is_file():
        return None
    validator: jsonschema.protocols.Validator = jsonschema.Draft202012Validator(_inline(json.loads(source.read_text())))
    return validator


@functools.cache
def _section_validator(kind: str, api_version: str, key: str) -> jsonschema.protocols.Validator | None:
    """The validator of one top-level field (`spec`, `metadata`...), so that an update is checked
    only in the parts it changed (an annotation patch need not revalidate the pod template)."""
    whole = _validator(kind, api_version)
    if whole is None:
        return None
    section = (whole.schema.get("properties") or {}).get(key)
    if not isinstance(section, dict):
        return None
    validator: jsonschema.protocols.Validator = jsonschema.Draft202012Validator(section)
    return validator


def has_schema(kind: str, api_version: str) -> bool:
    return _validator(kind, api_version) is not None


def field_path(path: Iterable[Any]) -> str:
    text = ""
    for element in path:
        text += f"[{element}]" if isinstance(element, int) else (f".{element}" if text else str(element))
    return text


def _join(parent: str, child: str) -> str:
    return f"{parent}.{child}" if parent else child


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _expected_type(schema: dict[str, Any]) -> str:
    if "oneOf" in schema:
        return "int-or-string"
    if schema.get("format"):
        return str(schema["format"])
    declared = schema.get("type")
    types = [declared] if isinstance(declared, str) else [t for t in declared or [] if t != "null"]
    return "/".join(types) or "object"


def _problems_of(error: jsonschema.ValidationError, prefix: tuple[str, ...] = ()) -> list[Problem]:
    where = field_path((*prefix, *error.absolute_path))
    keyword = error.validator
    if keyword == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties") or {}) if isinstance(error.schema, dict) else set()
        return [Problem(_UNKNOWN, _join(where, key), "unknown field") for key in error.instance if key not in known]
    if keyword == "required" and isinstance(error.validator_value, list) and isinstance(error.instance, dict):
        return [
            Problem("FieldValueRequired", _join(where, key), "Required value")
            for key in error.validator_value
            if key not in error.instance
        ]
    if keyword == "oneOf" and error.instance is None:
        return []  # null is the zero value of an int-or-string, whatever the schema's oneOf says
    if keyword in ("type", "oneOf"):
        schema = error.schema if isinstance(error.schema, dict) else {}
        message = (
            f"cannot unmarshal {_json_type(error.instance)} into Go struct field {where} "
            f"of type {_expected_type(schema)}"
        )
        return [Problem(_DECODING, where, message)]
    if keyword == "enum" and isinstance(error.validator_value, list):
        allowed = ", ".join(json.dumps(v) for v in error.validator_value)
        return [
            Problem(
                "FieldValueNotSupported",
                where,
                f"Unsupported value: {json.dumps(error.instance)}: supported values: {allowed}",
            )
        ]
    return [Problem("FieldValueInvalid", where, f"Invalid value: {json.dumps(error.instance)}: {error.message}")]


_UNCHECKED = ("apiVersion", "kind")  # the API server checks these against the URL, with its own messages


def problems(obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[Problem]:
    """Every way `obj` breaks the schema of its kind and apiVersion (none for kinds without one,
    such as custom resources, whose CRD schemas the emulator does not enforce). Given the `old`
    object an update replaces, top-level fields equal to the old ones are not checked again."""
    kind, api_version = str(obj.get("kind", "")), str(obj.get("apiVersion", ""))
    validator = _validator(kind, api_version)
    if validator is None:
        return []
    found: list[Problem] = []
    if old is None:
        for error in validator.iter_errors(obj):
            if not (error.absolute_path and error.absolute_path[0] in _UNCHECKED):
                found.extend(_problems_of(error))
        return sorted(set(found), key=lambda p: (p.field, p.reason))
    required = validator.schema.get("required") or []
    found += [Problem("FieldValueRequired", key, "Required value") for key in required if key not in obj]
    for key, value in obj.items():
        if key in _UNCHECKED or old.get(key, _ABSENT) == value:
            continue
        section = _section_validator(kind, api_version, key)
        if section is None:
            found.append(Problem(_UNKNOWN, key, "unknown field"))
            continue
        for error in section.iter_errors(value):
            found.extend(_problems_of(error, (key,)))
    return sorted(set(found), key=lambda p: (p.field, p.reason))


_ABSENT = object()


def _cannot_handle(obj: dict[str, Any], detail: str) -> ApiError:
    kind = obj.get("kind", "")
    version = str(obj.get("apiVersion", "")).rpartition("/")[2]
    return errors.bad_request(f'{kind} in version "{version}" cannot be handled as a {kind}: {detail}')


def _prune(obj: dict[str, Any], field: str) -> None:
    """Remove the unknown field at `field` (a path `problems` produced)."""
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", field)
    node: Any = obj
    for part in parts[:-1]:
        node = node[int(part[1:-1])] if part.startswith("[") else node.get(part)
    if isinstance(node, dict):
        node.pop(parts[-1], None)


@dataclass(frozen=True, slots=True)
class Admission:
    """The outcome of a write's schema check that did not refuse it outright."""

    invalid: list[Problem]  # 422 causes, reported with the caller's own validation
    warnings: list[str]  # what the client is told in `Warning` headers (dropped unknown fields)


def admit(obj: dict[str, Any], field_validation: str = WARN, old: dict[str, Any] | None = None) -> Admission:
    """What a write of `obj` (replacing `old`, if an update) meets at the API server: raises 400
    for decoding errors (and unknown fields under Strict), drops unknown fields otherwise (with a
    warning under Warn), and returns the 422 causes."""
    found = problems(obj, old)
    decoding = [p for p in found if p.reason == _DECODING]
    if decoding:
        raise _cannot_handle(obj, "json: " + "; ".join(p.message for p in decoding))
    unknown = [p for p in found if p.reason == _UNKNOWN]
    if unknown and field_validation == STRICT:
        raise _cannot_handle(obj, "strict decoding error: " + ", ".join(f'unknown field "{p.field}"' for p in unknown))
    for problem in sorted(unknown, key=lambda p: len(p.field), reverse=True):
        _prune(obj, problem.field)
    warnings = [f'unknown field "{p.field}"' for p in unknown] if field_validation == WARN else []
    return Admission([p for p in found if p.reason not in (_DECODING, _UNKNOWN)], warnings)


def validate(obj: dict[str, Any]) -> None:
    """Raise the ApiError a strict write of `obj` would get for its structure (400 for wrong
    types or unknown fields, 422 Invalid with causes for missing or unsupported values)."""
    copy = json.loads(json.dumps(obj))
    invalid = admit(copy, STRICT).invalid
    if invalid:
        kind = str(obj.get("kind", ""))
        group = str(obj.get("apiVersion", "")).rpartition("/")[0]
        name = str((obj.get("metadata") or {}).get("name", ""))
        raise errors.invalid(kind, group, name, [(p.reason, p.field, p.message) for p in invalid])
