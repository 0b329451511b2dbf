"""Score files (``apiVersion: score.dev/v1b1``) converted into Applications.

Mapping:

- ``metadata.name`` → the application id; ``metadata.annotations`` → annotations.
- ``containers.NAME`` → component ``NAME``: ``image``, ``command``, ``args``; ``variables`` → env;
  ``resources.requests``/``limits`` → resources; ``livenessProbe``/``readinessProbe`` with
  ``httpGet`` or ``exec`` → probes; ``files`` (list or map form) → config files: ``content``, or
  ``binaryContent`` (base64) → ``binary_content``; ``mode`` (an octal string) → ``mode``;
  ``source`` is read by tptctl, which sends the file's content instead (the API refuses it).
  ``volumes`` whose source is ``${resources.NAME}``
  of a ``volume`` resource → storage (size from the resource's ``params.size``, default 1Gi); a
  plain volume name (the older form) → storage of that name, 1Gi; ``path`` → ``sub_path``.
- ``service.ports.NAME`` → port ``NAME`` of the first container, numbered ``targetPort`` (or
  ``port``): a Threeport port is the container port, and the Service uses the same number.
- ``resources`` → dependencies as ``score_types`` says: ``postgres``, ``mysql``, ``redis``,
  ``s3`` → ``bucket``, ``dns``, ``route`` → ``ingress`` (``params.host``/``path``/``port``, the
  port a service port's number or name; a host of ``${resources.D.host}`` for a dns resource ``D``
  becomes ``params.dns: D``); ``volume`` → storage (above); ``service``, ``endpoint`` and
  ``service-port`` (another workload) → ``application`` with ``params.application`` the workload
  (and ``params.port`` for the latter two); any type the addon catalog provides → that type.
- Placeholders: ``${resources.NAME.KEY}`` → ``${dependencies.NAME.KEY}`` with the output renamed
  as ``score_types`` says (``name`` of a database → ``database``), or the fixed value of a constant
  output (``username`` of redis); ``${metadata.KEY}`` → the value; Score's ``$$`` escape → ``$``
  (so ``$${`` stays ``$${``, Threeport's escape for ``${``).

Anything else is an INVALID_ARGUMENT whose field violations use Score paths
(``containers.web.volumes[0]``: map keys joined with ``.``, or in brackets when they are not
plain words, list indices in brackets). Things accepted with a change are returned as warnings.
The caller validates the resulting Application as usual (with proto field paths).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from google.protobuf import struct_pb2

from threeport.registry.v1alpha1 import application_pb2
from threeport_model import names
from threeport_model.references import escape, reference_text
from threeport_registry.domain import field_paths as fp
from threeport_registry.domain.dependencies import NO_PROVIDED_TYPES, ProvidedTypes
from threeport_registry.domain.score_types import (
    WORKLOAD_TYPES,
    ScoreType,
    known_types,
    score_outputs,
    score_type,
)
from threeport_runtime.errors import FieldViolation, InvalidArgument

API_VERSION = "score.dev/v1b1"
DEFAULT_VOLUME_SIZE = "1Gi"
_TOP_LEVEL = ("apiVersion", "metadata", "service", "containers", "resources")
_CONTAINER_KEYS = (
    "image",
    "command",
    "args",
    "variables",
    "files",
    "volumes",
    "resources",
    "livenessProbe",
    "readinessProbe",
)
_RESOURCE_KEYS = ("type", "class", "id", "params", "metadata")
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


@dataclass
class ScoreConversion:
    """The Application equivalent to a Score file, its id, and what was adjusted."""

    application: application_pb2.Application
    application_id: str
    warnings: list[str] = field(default_factory=list)


def convert_score_yaml(
    text: str, *, parent: str = "", provided: ProvidedTypes = NO_PROVIDED_TYPES
) -> ScoreConversion:
    """Parses a Score file's YAML and converts it; a YAML error is a violation of ``score_yaml``.
    ``provided``: the types the addon catalog provides now, accepted as Score types too."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InvalidArgument.for_fields(
            [FieldViolation("score_yaml", f"is not valid YAML: {error}")]
        ) from error
    return convert_score(document, parent=parent, provided=provided)


def convert_score(
    document: Any, *, parent: str = "", provided: ProvidedTypes = NO_PROVIDED_TYPES
) -> ScoreConversion:
    """Converts a parsed Score document; ``parent`` (``projects/{project}``) sets the name."""
    converter = _Converter(provided)
    result = converter.convert(document, parent)
    converter.violations.raise_if_any()
    return result


def _path(parent: str, map_key: str) -> str:
    if _PLAIN_KEY.fullmatch(map_key):
        return f"{parent}.{map_key}" if parent else map_key
    return fp.key(parent, map_key)


class _Converter:
    def __init__(self, provided: ProvidedTypes) -> None:
        self.violations = fp.Violations()
        self.warnings: list[str] = []
        self.metadata: dict[str, Any] = {}
        self.provided = provided
        self.resources: dict[str, str] = {}  # name -> Score type (accepted types only)
        self.mappings: dict[str, ScoreType] = {}  # name -> how its type is provided
        self.unprovided: set[str] = set()  # resources whose type was refused (reported once)

    def convert(self, document: Any, parent: str) -> ScoreConversion:
        application = application_pb2.Application()
        if not isinstance(document, dict):
            self.violations.add("score_yaml", "must be a mapping with apiVersion, metadata and containers")
            return ScoreConversion(application, "")
        if document.get("apiVersion") != API_VERSION:
            self.violations.add(
                "apiVersion", f"{document.get('apiVersion')!r} is not supported; use {API_VERSION}"
            )
        for unknown in sorted(set(document) - set(_TOP_LEVEL)):
            self.violations.add(str(unknown), f"unknown field; a Score file has {', '.join(_TOP_LEVEL)}")
        application_id = self._metadata(document.get("metadata"), application)
        if parent and application_id:
            application.name = f"{parent}/applications/{application_id}"
        resources = self._mapping(document.get("resources", {}), "resources")
        for name, resource in resources.items():
            self._declare_resource(name, resource)
        containers = self._mapping(document.get("containers"), "containers", required=True)
        for name, container in containers.items():
            component = application.spec.components[name]
            self._container(name, container, component, resources)
        first = next(iter(containers), None)
        ports = self._service_ports(document.get("service"), first, application, len(containers))
        for name, resource in resources.items():
            self._resource(name, resource, application, first, ports)
        return ScoreConversion(application, application_id, self.warnings)

    # -- structure helpers ------------------------------------------------------------------

    def _mapping(self, value: Any, at: str, *, required: bool = False) -> dict[str, Any]:
        if value is None and not required:
            return {}
        if not isinstance(value, dict) or (required and not value):
            self.violations.add(at, "must be a non-empty mapping" if required else "must be a mapping")
            return {}
        return {str(k): v for k, v in value.items()}

    def _string(self, value: Any, at: str) -> str | None:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.violations.add(at, "must be a string")
            return None
        return str(value)

    def _strings(self, value: Any, at: str) -> list[str]:
        if not isinstance(value, list):
            self.violations.add(at, "must be a list of strings")
            return []
        found = [self._string(item, fp.index(at, i)) for i, item in enumerate(value)]
        return [s for s in found if s is not None]

    def _unknown_keys(self, value: dict[str, Any], allowed: tuple[str, ...], at: str) -> None:
        for unknown in sorted(set(value) - set(allowed)):
            self.violations.add(_path(at, unknown), f"is not supported; supported here: {', '.join(allowed)}")

    # -- metadata and placeholders ----------------------------------------------------------

    def _metadata(self, value: Any, application: application_pb2.Application) -> str:
        metadata = self._mapping(value, "metadata", required=True)
        self.metadata = metadata
        name = self._string(metadata.get("name"), "metadata.name") if "name" in metadata else None
        if name is None:
            if metadata:
                self.violations.add("metadata.name", "is required: the application id")
            return ""
        if error := names.check_id(name):
            self.violations.add("metadata.name", error)
        annotations = self._mapping(metadata.get("annotations"), "metadata.annotations")
        for annotation_key, annotation in annotations.items():
            if (text := self._string(annotation, _path("metadata.annotations", annotation_key))) is not None:
                application.annotations[annotation_key] = text
        for ignored in sorted(set(metadata) - {"name", "annotations"}):
            self.warnings.append(f"metadata.{ignored}: ignored (only name and annotations are used)")
        return name

    def _text(self, text: str, at: str, *, references_allowed: bool = True) -> str:
        """Score placeholders converted to Threeport references (or literal values)."""
        out: list[str] = []
        position = 0
        while (start := text.find("$", position)) != -1:
            out.append(text[position:start])
            if text.startswith("$$", start):
                out.append("$${" if text.startswith("$${", start) else "$")
                position = start + (3 if text.startswith("$${", start) else 2)
                continue
            if not text.startswith("${", start):
                out.append("$")
                position = start + 1
                continue
            close = text.find("}", start)
            if close == -1:
                self.violations.add(at, f"{text[start:]!r} has no closing '}}'")
                return text
            out.append(self._placeholder(text[start + 2 : close], at, references_allowed))
            position = close + 1
        out.append(text[position:])
        return "".join(out)

    def _placeholder(self, body: str, at: str, references_allowed: bool) -> str:
        parts = body.split(".")
        if parts[0] == "metadata" and len(parts) == 2 and isinstance(self.metadata.get(parts[1]), str):
            return escape(str(self.metadata[parts[1]]))
        if parts[0] == "resources" and len(parts) == 3:
            name, key = parts[1], parts[2]
            resource_type = self.resources.get(name)
            if resource_type is None and name in self.unprovided:
                return ""
            if resource_type is None:
                self.violations.add(at, f"${{{body}}} refers to an undeclared resource {name!r}")
                return ""
            if resource_type in ("volume", "route"):
                self.violations.add(at, f"${{{body}}}: a {resource_type} resource has no outputs to reference")
                return ""
            mapping = self.mappings[name]
            if key in mapping.refused:
                self.violations.add(at, f"${{{body}}}: {mapping.refused[key]}")
                return ""
            available = score_outputs(mapping, self.provided)
            if key not in available:
                self.violations.add(
                    at,
                    f"${{{body}}}: resource {name!r} ({resource_type}) has no output {key!r}; "
                    f"available: {', '.join(sorted(available))}",
                )
                return ""
            output = available[key]
            if output is None:
                return escape(mapping.constants[key])
            if not references_allowed:
                self.violations.add(
                    at, f"${{{body}}}: resource outputs are not supported here; use a variable"
                )
                return ""
            return reference_text(name, output)
        self.violations.add(
            at,
            f"${{{body}}} is not supported; use ${{resources.NAME.KEY}} or ${{metadata.KEY}} "
            "(write $${ for a literal ${)",
        )
        return ""

    # -- containers ---------------------------------------------------------------------------

    def _container(
        self, name: str, value: Any, component: application_pb2.Component, resources: dict[str, Any]
    ) -> None:
        at = _path("containers", name)
        container = self._mapping(value, at, required=True)
        self._unknown_keys(container, _CONTAINER_KEYS, at)
        image = self._string(container.get("image"), f"{at}.image") if "image" in container else None
        if image is None:
            self.violations.add(f"{at}.image", "is required: an image reference")
        elif image == ".":
            self.violations.add(
                f"{at}.image",
                "'.' (build from this directory) is not supported; give an image "
                "reference and report builds with `tptctl build report`",
            )
        else:
            component.image = image
        for field_name in ("command", "args"):
            if field_name in container:
                values = self._strings(container[field_name], f"{at}.{field_name}")
                converted = [
                    self._text(v, fp.index(f"{at}.{field_name}", i), references_allowed=False)
                    for i, v in enumerate(values)
                ]
                getattr(component, field_name).extend(converted)
        for variable, raw in self._mapping(container.get("variables"), f"{at}.variables").items():
            variable_at = _path(f"{at}.variables", variable)
            if (text := self._string(raw, variable_at)) is not None:
                component.env[variable] = self._text(text, variable_at)
        self._files(container.get("files"), f"{at}.files", component)
        self._volumes(container.get("volumes"), f"{at}.volumes", component, resources)
        self._compute(container.get("resources"), f"{at}.resources", component)
        for score_key, kind in (("livenessProbe", "liveness"), ("readinessProbe", "readiness")):
            if score_key in container:
                self._probe(container[score_key], f"{at}.{score_key}", getattr(component.probes, kind))

    def _entries(self, value: Any, at: str, key_field: str) -> list[tuple[str, dict[str, Any]]]:
        """Score's list form (``[{target: ...}]``) and map form (``{target: {...}}``) alike."""
        if value is None:
            return []
        entries: list[tuple[str, dict[str, Any]]] = []
        if isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    entries.append((fp.index(at, i), {str(k): v for k, v in item.items()}))
                else:
                    self.violations.add(fp.index(at, i), "must be a mapping")
        elif isinstance(value, dict):
            for target, item in value.items():
                item_at = _path(at, str(target))
                if isinstance(item, dict):
                    entries.append(
                        (item_at, {key_field: str(target), **{str(k): v for k, v in item.items()}})
                    )
                else:
                    self.violations.add(item_at, "must be a mapping")
        else:
            self.violations.add(at, "must be a list or a mapping")
        return entries

    def _files(self, value: Any, at: str, component: application_pb2.Component) -> None:
        for item_at, item in self._entries(value, at, "target"):
            self._unknown_keys(
                item, ("target", "content", "source", "binaryContent", "mode", "noExpand"), item_at
            )
            given = [key for key in ("content", "binaryContent", "source") if key in item]
            if len(given) != 1:
                self.violations.add(item_at, "give exactly one of content, binaryContent and source")
                continue
            if given == ["source"]:
                self.violations.add(
                    f"{item_at}.source",
                    "is read by tptctl, which sends the file's content instead (relative to the Score "
                    "file); through the API give content or binaryContent (base64)",
                )
                continue
            target = self._string(item.get("target"), f"{item_at}.target")
            mode = self._mode(item["mode"], f"{item_at}.mode") if "mode" in item else 0
            if given == ["binaryContent"]:
                binary = self._base64(item["binaryContent"], f"{item_at}.binaryContent")
                if target is not None and binary is not None:
                    component.config_files.add(path=target, binary_content=binary, mode=mode)
            elif (content := self._string(item.get("content"), f"{item_at}.content")) is not None:
                content = (
                    escape(content) if item.get("noExpand") is True else self._text(content, f"{item_at}.content")
                )
                if target is not None:
                    component.config_files.add(path=target, content=content, mode=mode)

    def _mode(self, value: Any, at: str) -> int:
        """Score's octal string (``"0755"``). A YAML number is refused: ``0644`` and ``644`` read
        as different numbers, so the intent cannot be known."""
        if isinstance(value, str) and re.fullmatch(r"0?[0-7]{3}", value):
            return int(value, 8)
        self.violations.add(at, 'must be an octal permission string such as "0644" or "0755" (quoted)')
        return 0

    def _base64(self, value: Any, at: str) -> bytes | None:
        text = self._string(value, at)
        if text is None:
            return None
        try:
            return base64.b64decode("".join(text.split()), validate=True)
        except (binascii.Error, ValueError):
            self.violations.add(at, "is not base64 (binaryContent holds the file's bytes in base64)")
            return None

    def _volumes(
        self, value: Any, at: str, component: application_pb2.Component, resources: dict[str, Any]
    ) -> None:
        for item_at, item in self._entries(value, at, "target"):
            self._unknown_keys(item, ("source", "target", "path", "readOnly"), item_at)
            source = self._string(item.get("source"), f"{item_at}.source") or ""
            match = re.fullmatch(r"\$\{resources\.([A-Za-z0-9_-]+)\}", source)
            if match is not None and self.resources.get(match[1]) == "volume":
                volume = match[1]
                params = resources[volume].get("params") or {}
                size = params.get("size") if isinstance(params, dict) else None
            elif match is None and "${" not in source and not names.check_id(source):
                volume, size = source, None  # the older form: a volume by name
            else:
                self.violations.add(
                    f"{item_at}.source",
                    "must be ${resources.NAME} of a `volume` resource, or a volume name (a DNS-1123 "
                    "label); either becomes persistent storage",
                )
                continue
            sub_path = self._string(item["path"], f"{item_at}.path") if "path" in item else ""
            target = self._string(item.get("target"), f"{item_at}.target")
            if target is None or sub_path is None:
                continue
            if size is None:
                size = DEFAULT_VOLUME_SIZE
                self.warnings.append(f"{item_at}: volume {volume!r} has no params.size; using {DEFAULT_VOLUME_SIZE}")
            # Score writes the sub-path absolute ("/sub/path"); Kubernetes wants it relative.
            component.storage.add(name=volume, path=target, size=str(size), sub_path=sub_path.lstrip("/"))
            if item.get("readOnly") is True:
                self.warnings.append(f"{item_at}.readOnly: storage is always mounted read-write")

    def _compute(self, value: Any, at: str, component: application_pb2.Component) -> None:
        compute = self._mapping(value, at)
        self._unknown_keys(compute, ("requests", "limits"), at)
        for section, target in (("requests", component.resources), ("limits", component.resources.limits)):
            amounts = self._mapping(compute.get(section), f"{at}.{section}")
            self._unknown_keys(amounts, ("cpu", "memory"), f"{at}.{section}")
            for resource_name in ("cpu", "memory"):
                if resource_name in amounts:
                    amount = self._string(amounts[resource_name], f"{at}.{section}.{resource_name}")
                    setattr(target, resource_name, amount or "")

    def _probe(self, value: Any, at: str, probe: application_pb2.Probe) -> None:
        spec = self._mapping(value, at, required=True)
        self._unknown_keys(spec, ("httpGet", "exec"), at)
        if "httpGet" in spec:
            http = self._mapping(spec["httpGet"], f"{at}.httpGet", required=True)
            self._unknown_keys(http, ("port", "path", "host", "scheme", "httpHeaders"), f"{at}.httpGet")
            if str(http.get("scheme", "HTTP")).upper() != "HTTP":
                self.violations.add(f"{at}.httpGet.scheme", "only HTTP probes are supported")
            for ignored in ("host", "httpHeaders"):
                if ignored in http:
                    self.warnings.append(f"{at}.httpGet.{ignored}: ignored; probes go to the container")
            port = self._string(http.get("port"), f"{at}.httpGet.port")
            probe.http.path = str(http.get("path", "/"))
            probe.http.port = port or ""
        elif "exec" in spec:
            command = self._mapping(spec["exec"], f"{at}.exec", required=True)
            probe.exec.command.extend(self._strings(command.get("command"), f"{at}.exec.command"))

    # -- service ports and resources ------------------------------------------------------------

    def _service_ports(
        self, value: Any, first: str | None, application: application_pb2.Application, containers: int
    ) -> dict[int, str]:
        """Adds ports to the first container; returns service port number -> port name."""
        service = self._mapping(value, "service")
        self._unknown_keys(service, ("ports",), "service")
        by_service_port: dict[int, str] = {}
        ports = self._mapping(service.get("ports"), "service.ports")
        if not ports or first is None:
            return by_service_port
        component = application.spec.components[first]
        if containers > 1:
            self.warnings.append(
                f"service.ports: Threeport runs each container as its own component; "
                f"the ports are given to the first container, {first!r}"
            )
        for name, raw in ports.items():
            at = _path("service.ports", name)
            port = self._mapping(raw, at, required=True)
            self._unknown_keys(port, ("port", "targetPort", "protocol"), at)
            number = port.get("port")
            target = port.get("targetPort", number)
            if not isinstance(number, int) or not isinstance(target, int):
                self.violations.add(at, "port and targetPort must be numbers")
                continue
            if target != number:
                self.warnings.append(f"{at}: exposed as port {target} (the container port), not {number}")
            component.ports.add(name=name, port=target, protocol=str(port.get("protocol", "TCP")).upper())
            by_service_port[number] = name
        for probe in (component.probes.liveness, component.probes.readiness):
            for port_entry in component.ports:
                if probe.http.port == str(port_entry.port):
                    probe.http.port = port_entry.name  # a name survives a port renumbering
        return by_service_port

    def _declare_resource(self, name: str, value: Any) -> None:
        at = _path("resources", name)
        resource = value if isinstance(value, dict) else {}
        type_name = resource.get("type")
        mapping = score_type(type_name, self.provided) if isinstance(type_name, str) else None
        if not isinstance(value, dict):
            self.violations.add(at, "must be a mapping with a type")
        elif mapping is None:
            self.unprovided.add(name)
            self.violations.add(
                f"{at}.type",
                f"resource type {type_name!r} has no provider here; use one of "
                f"{', '.join(known_types(self.provided))} (an operator adds a type by applying "
                "an Addon that provides it)",
            )
        else:
            self.resources[name] = str(type_name)
            self.mappings[name] = mapping

    def _resource(
        self,
        name: str,
        value: Any,
        application: application_pb2.Application,
        first: str | None,
        ports: dict[int, str],
    ) -> None:
        resource_type = self.resources.get(name)
        if resource_type is None:
            return
        mapping = self.mappings[name]
        at = _path("resources", name)
        resource = {str(k): v for k, v in value.items()}
        self._unknown_keys(resource, _RESOURCE_KEYS, at)
        for ignored, why in (
            ("id", "resources are never shared between applications"),
            ("metadata", "resource metadata is not used"),
        ):
            if ignored in resource and not (ignored == "id" and resource_type in WORKLOAD_TYPES):
                self.warnings.append(f"{at}.{ignored}: ignored; {why}")
        if resource_type == "volume":
            used = any(s.name == name for c in application.spec.components.values() for s in c.storage)
            if not used:
                self.warnings.append(f"{at}: volume not mounted by any container; ignored")
            return
        params = self._mapping(resource.get("params"), f"{at}.params")
        dependency = application.spec.dependencies[name]
        dependency.type = mapping.dependency_type
        if "class" in resource and (class_name := self._string(resource["class"], f"{at}.class")):
            setattr(dependency, "class", class_name)
        if resource_type == "route":
            self._route(params, f"{at}.params", dependency.params, first, ports)
            return
        if resource_type in WORKLOAD_TYPES:
            self._workload(resource_type, name, resource, params, at, dependency.params)
            return
        if mapping.dependency_type not in {"postgres", "mysql", "redis", "bucket", "dns"}:
            dependency.params.update(params)  # an addon's type: its params are the addon's business
            return
        for param, param_value in params.items():
            if param in mapping.params:
                dependency.params.update({param: param_value})
            else:
                self.warnings.append(
                    f"{at}.params.{param}: ignored; {dependency.type} takes "
                    f"{', '.join(mapping.params) or 'no params'}"
                )

    def _workload(
        self,
        resource_type: str,
        name: str,
        resource: dict[str, Any],
        params: dict[str, Any],
        at: str,
        target: struct_pb2.Struct,
    ) -> None:
        """``service``/``endpoint``/``service-port``: another workload, that is another application
        deployed to the same environment (the community provisioners' rule for which one)."""
        if resource_type == "service-port":
            self._unknown_keys(params, ("workload", "port"), f"{at}.params")
            workload, workload_at = params.get("workload"), f"{at}.params.workload"
            if workload is None:
                self.violations.add(workload_at, "is required: the name of the workload to connect to")
                return
        elif "id" in resource:
            workload, workload_at = str(resource["id"]).split(".")[-1], f"{at}.id"
        else:
            workload, workload_at = name, at
        if (text := self._string(workload, workload_at)) is None:
            return
        if error := names.check_id(text):
            self.violations.add(workload_at, f"names workload {text!r}, which is not an application id: {error}")
            return
        target.update({"application": text})
        if resource_type != "service" and "port" in params:
            port = params["port"]
            if isinstance(port, bool) or not isinstance(port, int | str):
                self.violations.add(f"{at}.params.port", "must be a port name or number of that workload")
            else:
                target.update({"port": str(port)})
        ignored = sorted(set(params) - {"workload", "port"}) if resource_type == "endpoint" else []
        ignored += sorted(params) if resource_type == "service" else []
        for param in ignored:
            self.warnings.append(
                f"{at}.params.{param}: ignored; the workload {text!r} is deployed by Threeport, never mocked"
            )

    def _route(
        self,
        params: dict[str, Any],
        at: str,
        target: struct_pb2.Struct,
        first: str | None,
        ports: dict[int, str],
    ) -> None:
        self._unknown_keys(params, ("host", "path", "port"), at)
        port = params.get("port")
        port_name = ports.get(port) if isinstance(port, int) else port if port in ports.values() else None
        if port_name is None:
            declared = ", ".join(f"{number} ({ports[number]})" for number in sorted(ports)) or "none"
            self.violations.add(f"{at}.port", f"must be one of the service ports, by number or name: {declared}")
        elif first is not None:
            target.update({"component": first, "port": port_name})
        host = params.get("host")
        if isinstance(host, str):
            match = re.fullmatch(r"\$\{resources\.([A-Za-z0-9_-]+)\.host\}", host)
            if match and self.resources.get(match[1]) == "dns":
                target.update({"dns": match[1]})
            elif "${" in host:
                self.violations.add(
                    f"{at}.host", "must be a host name or ${resources.DNS.host} of a dns resource"
                )
            else:
                target.update({"host": host})
        if isinstance(params.get("path"), str):
            target.update({"path": params["path"]})
