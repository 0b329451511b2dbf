"""Validation of Applications: components, dependencies, output references and placement.

``validate_application`` returns every violation (never just the first); ``check_application``
raises INVALID_ARGUMENT with all of them. Field paths follow ``field_paths``.

Rules decided here (beyond what the proto comments say):

- Every port needs a name: probes and ingresses refer to ports by name, and Services with
  several ports need names.
- Two ports of a component may share a number only with different protocols (DNS on 53/TCP and
  53/UDP).
- ``replicas`` 0 means "the default, 1" (proto3 cannot tell an unset 0 from an explicit one);
  at most ``MAX_REPLICAS``.
- Output references may appear in env values and config file contents only; config files are
  plain ConfigMaps, so they may not reference secret outputs. ``command`` and ``args`` may not
  contain references: put the value in an env var and use Kubernetes' ``$(VAR)``.
- A component's config files together must fit in one ConfigMap (1 MiB); a file is text
  (``content``) or bytes (``binary_content``), not both.
"""

from __future__ import annotations

import posixpath

from threeport.registry.v1alpha1 import application_pb2
from threeport_model import names, quantities, references
from threeport_model.dependency_types import DEPENDENCY_TYPES, Output, outputs_of
from threeport_model.locations import check_location
from threeport_registry.domain import component_kinds, secret_refs
from threeport_registry.domain import field_paths as fp
from threeport_registry.domain.dependencies import NO_PROVIDED_TYPES, ProvidedTypes, validate_dependencies
from threeport_registry.domain.images import check_image_reference
from threeport_registry.domain.metadata import validate_labels, validate_metadata
from threeport_runtime.errors import FieldViolation

MAX_REPLICAS = 1000
MAX_PROBE_SECONDS = 3600
MAX_CONFIG_BYTES = 1024 * 1024
MAX_DESCRIPTION_LENGTH = 2000
PROTOCOLS = ("TCP", "UDP", "SCTP")


def validate_application(
    application: application_pb2.Application,
    *,
    application_id: str | None = None,
    path: str = "application",
    provided: ProvidedTypes = NO_PROVIDED_TYPES,
) -> list[FieldViolation]:
    """Every violation in the application (and in ``application_id``, when given). ``provided``
    are the types the addon catalog adds, with their outputs."""
    violations = fp.Violations()
    if application_id is not None and (error := names.check_id(application_id)):
        violations.add("application_id", error)
    validate_metadata(application.labels, application.annotations, path, violations)
    spec = application.spec
    spec_at = fp.child(path, "spec")
    if not spec.components:
        violations.add(
            fp.child(spec_at, "components"), "at least one component is required (a name and an image)"
        )
    for name, component in spec.components.items():
        at = fp.key(fp.child(spec_at, "components"), name)
        if error := names.check_id(name):
            violations.add(at, f"component name {error}")
        _validate_component(component, at, spec, violations, provided)
    component_kinds.validate_hooks(spec, fp.child(spec_at, "hooks"), violations)
    validate_dependencies(spec, spec_at, violations, provided)
    if spec.HasField("placement"):
        _validate_placement(spec.placement, fp.child(spec_at, "placement"), violations)
    if len(spec.description) > MAX_DESCRIPTION_LENGTH:
        violations.add(fp.child(spec_at, "description"), f"at most {MAX_DESCRIPTION_LENGTH} characters")
    secret_refs.validate_registry_credentials(spec.registry_credentials, fp.child(spec_at, "registry_credentials"),
                                              violations)
    return violations.as_list()


def check_application(
    application: application_pb2.Application, *, application_id: str | None = None, path: str = "application"
) -> None:
    """Raises INVALID_ARGUMENT listing every violation, if any."""
    violations = fp.Violations()
    violations.extend(validate_application(application, application_id=application_id, path=path))
    violations.raise_if_any()


def _validate_component(
    component: application_pb2.Component,
    at: str,
    spec: application_pb2.ApplicationSpec,
    violations: fp.Violations,
    provided: ProvidedTypes,
) -> None:
    def check_values(text: str, where: str) -> None:
        _validate_references(text, where, spec, violations, provided, allow_secrets=False)

    component_kinds.validate_kind(component, at, spec, violations, check_values)
    if not component_kinds.is_workload(component):
        return  # a chart or manifests: its own fields are checked above
    if error := check_image_reference(component.image):
        violations.add(fp.child(at, "image"), error)
    for field_name, values in (("command", component.command), ("args", component.args)):
        for position, value in enumerate(values):
            if references.contains_reference_syntax(value):
                violations.add(
                    fp.index(fp.child(at, field_name), position),
                    "output references are not allowed here; put the value in an env var "
                    "and use $(VAR) (write $${ for a literal ${)",
                )
    if not 0 <= component.replicas <= MAX_REPLICAS:
        violations.add(
            fp.child(at, "replicas"),
            f"{component.replicas} is out of range: use 0-{MAX_REPLICAS} (0 means the default, 1)",
        )
    port_names = _validate_ports(component, fp.child(at, "ports"), violations)
    for env_name, value in component.env.items():
        env_at = fp.key(fp.child(at, "env"), env_name)
        if error := names.check_env_var_name(env_name):
            violations.add(env_at, error)
        _validate_references(value, env_at, spec, violations, provided, allow_secrets=True)
    if component.HasField("resources"):
        _validate_resources(component.resources, fp.child(at, "resources"), violations)
    if component.HasField("probes"):
        probes_at = fp.child(at, "probes")
        for kind in ("readiness", "liveness", "startup"):
            if component.probes.HasField(kind):
                _validate_probe(
                    getattr(component.probes, kind), fp.child(probes_at, kind), port_names, violations
                )
    _validate_storage(component, fp.child(at, "storage"), violations)
    _validate_config_files(component, fp.child(at, "config_files"), spec, violations, provided)
    secret_refs.validate_secret_env(component, at, violations)


def _validate_ports(component: application_pb2.Component, at: str, violations: fp.Violations) -> set[str]:
    names_seen: set[str] = set()
    numbers_seen: set[tuple[int, str]] = set()
    for position, port in enumerate(component.ports):
        port_at = fp.index(at, position)
        if error := names.check_port_name(port.name):
            violations.add(fp.child(port_at, "name"), error)
        elif port.name in names_seen:
            violations.add(
                fp.child(port_at, "name"), f"port name {port.name!r} is used twice in this component"
            )
        names_seen.add(port.name)
        if not 1 <= port.port <= 65535:
            violations.add(fp.child(port_at, "port"), f"{port.port} is not a port number: use 1-65535")
        protocol = port.protocol or "TCP"
        if protocol not in PROTOCOLS:
            violations.add(
                fp.child(port_at, "protocol"),
                f"{port.protocol!r} is not a protocol: use {', '.join(PROTOCOLS)} (default TCP)",
            )
        elif (port.port, protocol) in numbers_seen:
            violations.add(
                fp.child(port_at, "port"), f"port {port.port}/{protocol} is declared twice in this component"
            )
        numbers_seen.add((port.port, protocol))
    return names_seen


def _validate_references(
    text: str,
    at: str,
    spec: application_pb2.ApplicationSpec,
    violations: fp.Violations,
    provided: ProvidedTypes,
    *,
    allow_secrets: bool,
) -> None:
    result = references.scan(text)
    for bad in result.malformed:
        violations.add(at, f"{bad.text!r} {bad.reason}")
    for reference in result.references:
        dependency = spec.dependencies.get(reference.dependency)
        if dependency is None:
            declared = ", ".join(sorted(spec.dependencies)) or "none"
            violations.add(
                at,
                f"{reference} refers to an undeclared dependency {reference.dependency!r}; declared: {declared}",
            )
            continue
        if dependency.type in DEPENDENCY_TYPES:
            outputs = outputs_of(dependency.type, dependency.params)
        elif dependency.type in provided:
            outputs = {name: Output(name, False, "an addon output") for name in provided[dependency.type]}
        else:
            continue  # the unknown type is reported on the dependency itself
        output = outputs.get(reference.output)
        if output is None:
            available = ", ".join(sorted(outputs)) or "none"
            violations.add(
                at,
                f"dependency {reference.dependency!r} ({dependency.type}) has no output "
                f"{reference.output!r}; available: {available}",
            )
        elif output.secret and not allow_secrets:
            violations.add(
                at,
                f"{reference} is secret and this field is not; reference it from an env var instead "
                "(a chart reads secret outputs from its component's outputs Secret)",
            )


def _validate_resources(resources: application_pb2.Resources, at: str, violations: fp.Violations) -> None:
    _check_quantity_pair(resources.cpu, resources.limits.cpu, at, "cpu", violations)
    _check_quantity_pair(resources.memory, resources.limits.memory, at, "memory", violations)


def _check_quantity_pair(
    request: str, limit: str, at: str, field_name: str, violations: fp.Violations
) -> None:
    def check(text: str) -> str | None:
        return quantities.check_cpu(text) if field_name == "cpu" else quantities.check_bytes(text, "memory")

    request_at, limit_at = fp.child(at, field_name), fp.child(fp.child(at, "limits"), field_name)
    request_error = check(request) if request else None
    limit_error = check(limit) if limit else None
    if request_error:
        violations.add(request_at, request_error)
    if limit_error:
        violations.add(limit_at, limit_error)
    if (
        request
        and limit
        and not request_error
        and not limit_error
        and (quantities.parse_quantity(limit).value < quantities.parse_quantity(request).value)
    ):
        violations.add(
            limit_at, f"limit {limit} is below the request {request}; a limit must be at least the request"
        )


def _validate_probe(
    probe: application_pb2.Probe, at: str, port_names: set[str], violations: fp.Violations
) -> None:
    kinds = [kind for kind in ("http", "tcp", "exec") if probe.HasField(kind)]
    if len(kinds) != 1:
        found = ", ".join(kinds) if kinds else "none"
        violations.add(at, f"set exactly one of http, tcp and exec (found: {found})")
    if probe.HasField("http"):
        if not probe.http.path.startswith("/"):
            violations.add(
                fp.child(fp.child(at, "http"), "path"),
                f"{probe.http.path!r} is not a path: it must start with '/', e.g. /healthz",
            )
        _check_probe_port(probe.http.port, fp.child(fp.child(at, "http"), "port"), port_names, violations)
    if probe.HasField("tcp"):
        _check_probe_port(probe.tcp.port, fp.child(fp.child(at, "tcp"), "port"), port_names, violations)
    if probe.HasField("exec") and not probe.exec.command:
        violations.add(
            fp.child(fp.child(at, "exec"), "command"), "is required: the command and its arguments"
        )
    for field_name in ("initial_delay_seconds", "period_seconds", "timeout_seconds", "failure_threshold"):
        value = getattr(probe, field_name)
        if not 0 <= value <= MAX_PROBE_SECONDS:
            violations.add(
                fp.child(at, field_name),
                f"{value} is out of range: use 0-{MAX_PROBE_SECONDS} (0 means the default)",
            )


def _check_probe_port(port: str, at: str, port_names: set[str], violations: fp.Violations) -> None:
    if port.isdigit():
        if not 1 <= int(port) <= 65535:
            violations.add(at, f"{port} is not a port number: use 1-65535")
    elif port not in port_names:
        declared = ", ".join(sorted(port_names)) or "none"
        if not port:
            violations.add(at, f"is required: a port name of this component ({declared}) or a number")
        else:
            violations.add(
                at,
                f"{port!r} is not a port of this component: use one of its port names "
                f"({declared}) or a number",
            )


def _validate_storage(component: application_pb2.Component, at: str, violations: fp.Violations) -> None:
    seen_names: set[str] = set()
    seen_paths: set[str] = set()
    for position, storage in enumerate(component.storage):
        storage_at = fp.index(at, position)
        if error := names.check_id(storage.name):
            violations.add(fp.child(storage_at, "name"), f"storage name {error}")
        elif storage.name in seen_names:
            violations.add(fp.child(storage_at, "name"), f"storage name {storage.name!r} is used twice")
        seen_names.add(storage.name)
        if error := _check_absolute_path(storage.path):
            violations.add(fp.child(storage_at, "path"), error)
        elif storage.path in seen_paths:
            violations.add(fp.child(storage_at, "path"), f"{storage.path!r} is mounted twice")
        seen_paths.add(storage.path)
        if storage.sub_path and (
            storage.sub_path.startswith("/") or posixpath.normpath(storage.sub_path) != storage.sub_path
            or storage.sub_path.split("/")[0] == ".."
        ):
            violations.add(
                fp.child(storage_at, "sub_path"),
                f"{storage.sub_path!r} must be a normalised relative path inside the volume (no '..', "
                "no leading '/')",
            )
        if not storage.size:
            violations.add(fp.child(storage_at, "size"), "is required: a size such as 1Gi")
        elif error := quantities.check_bytes(storage.size, "size"):
            violations.add(fp.child(storage_at, "size"), error)


def _validate_config_files(
    component: application_pb2.Component,
    at: str,
    spec: application_pb2.ApplicationSpec,
    violations: fp.Violations,
    provided: ProvidedTypes,
) -> None:
    seen: set[str] = set()
    total = 0
    for position, config_file in enumerate(component.config_files):
        file_at = fp.index(at, position)
        if error := _check_absolute_path(config_file.path):
            violations.add(fp.child(file_at, "path"), error)
        elif config_file.path in seen:
            violations.add(fp.child(file_at, "path"), f"{config_file.path!r} is used by two config files")
        seen.add(config_file.path)
        if config_file.content and config_file.binary_content:
            violations.add(file_at, "set either content or binary_content, not both")
        if not 0 <= config_file.mode <= 0o777:
            violations.add(fp.child(file_at, "mode"), f"{config_file.mode} is not a file mode: use 0-511 (0o777)")
        total += len(config_file.content.encode()) + len(config_file.binary_content)
        _validate_references(
            config_file.content, fp.child(file_at, "content"), spec, violations, provided, allow_secrets=False
        )
    if total > MAX_CONFIG_BYTES:
        violations.add(
            at, f"config files total {total} bytes; at most {MAX_CONFIG_BYTES} (1 MiB) per component"
        )


def _check_absolute_path(path: str) -> str | None:
    if not path.startswith("/"):
        return f"{path!r} is not an absolute path: it must start with '/', e.g. /etc/app/config.yaml"
    if path == "/" or posixpath.normpath(path) != path:
        return f"{path!r} must be a normalised path below '/' (no '..', '.', '//' or trailing '/')"
    return None


def _validate_placement(placement: application_pb2.Placement, at: str, violations: fp.Violations) -> None:
    if placement.location and (error := check_location(placement.location)):
        violations.add(fp.child(at, "location"), error)
    if placement.cluster_profile and (error := names.check_id(placement.cluster_profile)):
        violations.add(fp.child(at, "cluster_profile"), f"a ClusterProfile id: {error}")
    validate_labels(placement.cluster_labels, fp.child(at, "cluster_labels"), violations)
    if placement.cluster and (error := names.check_resource_name(placement.cluster, "clusters")):
        violations.add(fp.child(at, "cluster"), error)
