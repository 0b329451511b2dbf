"""Renders a release into Kubernetes objects (plain dicts, ready for server-side apply).

Per deployment: its Namespace, and a dockerconfigjson Secret per registry credential
(``secret_rendering``). Per component: a ServiceAccount (with the IAM role of a bucket it
uses, ``workload_identity``); a ConfigMap with the plain env
values (and one with config files, when it has any); a Secret with every env value that uses a
secret dependency output; a Secret with its ``secretEnv`` values (``secret_rendering``); a Deployment, or a StatefulSet
when the component declares storage;
and a Service for its ports. Every object carries the Threeport labels. The pod template carries
a hash of the config and secret data so that a config change rolls the pods.

Components of other kinds render through their own modules: ``render_jobs`` (``kind: job``, a
Job or CronJob from the same Pod template), ``render_manifests`` (``kind: manifests``, and the
objects of ``kind: helm`` charts, which ``pipeline.charts`` renders beforehand), ``render_helm``
(chart values and the outputs Secret) and ``scaling`` (autoscalers and disruption budgets).

Rendering is deterministic: the same input gives byte-identical objects, which is what release
fingerprints and drift detection rely on.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from threeport.delivery.v1alpha1 import release_pb2
from threeport.registry.v1alpha1 import application_pb2
from threeport_model import references
from threeport_model.dependency_types import is_secret_output
from threeport_workload_delivery.domain import (
    names,
    render_helm,
    render_jobs,
    render_manifests,
    scaling,
    secret_rendering,
)
from threeport_workload_delivery.domain.external_secrets import (
    SyncedSecretError,
    external_secrets,
    split_synced_env,
)
from threeport_workload_delivery.domain.ingress import ingresses
from threeport_workload_delivery.domain.logging import with_log_collection
from threeport_workload_delivery.domain.monitoring import service_monitors
from threeport_workload_delivery.domain.secret_rendering import PullCredential, SecretValue
from threeport_workload_delivery.domain.workload_identity import service_account_annotations

Manifest = dict[str, Any]
DEFAULT_PROGRESS_DEADLINE = 600


@dataclass(frozen=True)
class DependencyOutputs:
    """What one dependency publishes: its type, plain values and secret values."""

    type: str
    values: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)

    def lookup(self, output: str) -> tuple[str, bool] | None:
        if output in self.secrets:
            return self.secrets[output], True
        if output in self.values:
            return self.values[output], is_secret_output(self.type, output)
        return None


@dataclass(frozen=True)
class RenderInput:
    project: str
    deployment: str  # resource name
    application: str  # id
    environment: str  # id
    namespace: str
    spec: application_pb2.ApplicationSpec
    images: Mapping[str, release_pb2.ImageRef]
    dependencies: Mapping[str, DependencyOutputs]
    # Per ``kind: helm`` component, the objects its chart rendered (``pipeline.charts``).
    charts: Mapping[str, list[Manifest]] = field(default_factory=dict)
    # Whether the environment lets manifests and charts apply cluster-scoped objects.
    allow_cluster_scoped: bool = False
    # The deployment's Secrets that components' secretEnv names, and its registry logins.
    secret_values: Mapping[str, SecretValue] = field(default_factory=dict)
    pull_credentials: Mapping[str, PullCredential] = field(default_factory=dict)


class RenderError(ValueError):
    """The application cannot be rendered (e.g. a reference to an output nobody publishes)."""


def image_of(ref: release_pb2.ImageRef) -> str:
    """The image pinned by digest where known."""
    if ref.digest and "@" not in ref.image:
        return f"{ref.image}@{ref.digest}"
    return ref.image


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _port_ref(text: str) -> int | str:
    return int(text) if text.isdigit() else text


def _probe(probe: application_pb2.Probe) -> Manifest | None:
    result: Manifest = {}
    if probe.HasField("http"):
        result["httpGet"] = {"path": probe.http.path or "/", "port": _port_ref(probe.http.port)}
    elif probe.HasField("tcp"):
        result["tcpSocket"] = {"port": _port_ref(probe.tcp.port)}
    elif probe.HasField("exec"):
        result["exec"] = {"command": list(probe.exec.command)}
    else:
        return None
    for proto_field, key in (
        ("initial_delay_seconds", "initialDelaySeconds"),
        ("period_seconds", "periodSeconds"),
        ("timeout_seconds", "timeoutSeconds"),
        ("failure_threshold", "failureThreshold"),
    ):
        value = getattr(probe, proto_field)
        if value:
            result[key] = value
    return result


def _resources(resources: application_pb2.Resources) -> Manifest:
    result: Manifest = {}
    requests = {k: v for k, v in (("cpu", resources.cpu), ("memory", resources.memory)) if v}
    limits = {k: v for k, v in (("cpu", resources.limits.cpu), ("memory", resources.limits.memory)) if v}
    if requests:
        result["requests"] = requests
    if limits:
        result["limits"] = limits
    return result


def _resolve(
    dependencies: Mapping[str, DependencyOutputs], ref: references.OutputReference, component: str,
    where: str = "env",
) -> tuple[str, bool]:
    """(value, secret) of one reference; RenderError when no dependency publishes it."""
    outputs = dependencies.get(ref.dependency)
    found = outputs.lookup(ref.output) if outputs is not None else None
    if found is None:
        raise RenderError(f"component {component}: {where} references {ref}, which no dependency publishes")
    return found


def _split_env(
    component: str, env: Mapping[str, str], dependencies: Mapping[str, DependencyOutputs]
) -> tuple[dict[str, str], dict[str, str]]:
    """(plain, secret) env after substitution; a value using any secret output is secret."""
    plain: dict[str, str] = {}
    secret: dict[str, str] = {}
    for key in sorted(env):
        value = env[key]
        uses_secret = False

        def resolve(ref: references.OutputReference, key: str = key) -> str:
            nonlocal uses_secret
            found = _resolve(dependencies, ref, component, f"env {key}")
            uses_secret = uses_secret or found[1]
            return found[0]

        rendered = references.substitute(value, resolve)
        (secret if uses_secret else plain)[key] = rendered
    return plain, secret


def _metadata(name: str, namespace: str, labels: Mapping[str, str], component: str = "") -> Manifest:
    all_labels = dict(labels)
    if component:
        all_labels[names.COMPONENT_LABEL] = component
    metadata: Manifest = {"name": name, "labels": all_labels}
    if namespace:
        metadata["namespace"] = namespace
    return metadata


def _labels(project: str, deployment: str, application: str, environment: str) -> dict[str, str]:
    return {
        **names.threeport_labels(project, deployment),
        names.APPLICATION_LABEL: application,
        names.ENVIRONMENT_LABEL: environment,
    }


def namespace_object(*, project: str, deployment: str, application: str, environment: str,
                     namespace: str) -> Manifest:
    """The deployment's Namespace, as ``render`` renders it first (the reconciler also creates it
    before dependencies are provisioned into it)."""
    labels = _labels(project, deployment, application, environment)
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": _metadata(namespace, "", labels)}


def render(data: RenderInput) -> list[Manifest]:
    """Every object of the deployment, namespace first, workloads last."""
    labels = _labels(data.project, data.deployment, data.application, data.environment)
    objects: list[Manifest] = [namespace_object(project=data.project, deployment=data.deployment,
                                                application=data.application, environment=data.environment,
                                                namespace=data.namespace)]
    objects.extend(secret_rendering.pull_secrets(data.application, data.pull_credentials,
                                                 _metadata("", data.namespace, labels)))
    declared = _declared_objects(data)
    known = render_manifests.scopes(o for listed in declared.values() for o in listed)
    for component in sorted(data.spec.components):
        if component in declared:
            objects.extend(_declared(data, component, declared[component], labels, known))
        else:
            objects.extend(_component(data, component, labels))
    published = {name: outputs.values for name, outputs in data.dependencies.items()}
    objects.extend(ingresses(data.spec, data.application, data.namespace, labels, published))
    objects.extend(external_secrets(data.spec, project=data.project, environment=data.environment,
                                    application=data.application, namespace=data.namespace, labels=labels,
                                    published=data.dependencies))
    objects.extend(service_monitors(data.spec, data.application, data.deployment, data.namespace, labels, published))
    return with_log_collection(objects, data.spec, published)


def _declared_objects(data: RenderInput) -> dict[str, list[Manifest]]:
    """Per manifests or helm component, the objects it declares (as written or as the chart rendered)."""
    declared: dict[str, list[Manifest]] = {}
    for component, spec in sorted(data.spec.components.items()):
        try:
            if spec.kind == "manifests":
                declared[component] = render_manifests.parse(component, spec.manifests)
            elif spec.kind == "helm":
                declared[component] = list(data.charts.get(component, []))
        except render_manifests.ObjectsError as error:
            raise RenderError(str(error)) from None
    return declared


def _declared(
    data: RenderInput, component: str, objects: list[Manifest], labels: Mapping[str, str],
    known: Mapping[tuple[str, str], bool],
) -> list[Manifest]:
    try:
        placed = render_manifests.place(
            component, objects, namespace=data.namespace, labels=labels, known=known,
            allow_cluster_scoped=data.allow_cluster_scoped, environment=data.environment,
        )
    except render_manifests.ObjectsError as error:
        raise RenderError(str(error)) from None
    if data.spec.components[component].kind == "helm":
        secret = render_helm.outputs_secret(data.application, component, data.dependencies,
                                            _metadata("", data.namespace, labels, component))
        if secret is not None:
            placed.insert(0, secret)
    return placed


def _component(data: RenderInput, component: str, labels: Mapping[str, str]) -> list[Manifest]:
    spec = data.spec.components[component]
    ns = data.namespace
    app = data.application
    name = names.object_name(app, component)
    selector = {names.DEPLOYMENT_LABEL: names.last_segment(data.deployment), names.COMPONENT_LABEL: component}
    account = _metadata(name, ns, labels, component)
    if identity := service_account_annotations(spec.env, data.dependencies):
        account["annotations"] = identity
    out: list[Manifest] = [{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": account}]
    try:
        env, synced_env = split_synced_env(component, spec.env, data.spec, app, data.dependencies,
                                           lambda ref: _resolve(data.dependencies, ref, component))
    except SyncedSecretError as error:
        raise RenderError(str(error)) from None
    plain, secret = _split_env(component, env, data.dependencies)
    env_from: list[Manifest] = []
    config_name = names.object_name(app, component, "env")
    out.append(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _metadata(config_name, ns, labels, component),
         "data": plain}
    )
    env_from.append({"configMapRef": {"name": config_name}})
    secret_data = {k: _b64(v) for k, v in secret.items()}
    if secret:
        secret_name = names.object_name(app, component, "secrets")
        out.append(
            {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
             "metadata": _metadata(secret_name, ns, labels, component), "data": secret_data}
        )
        env_from.append({"secretRef": {"name": secret_name}})
    try:
        secret_objects, secret_env, secret_versions = secret_rendering.secret_env(
            app, component, spec, data.secret_values, _metadata("", ns, labels, component))
    except secret_rendering.MissingSecret as missing:
        raise RenderError(str(missing)) from None
    out.extend(secret_objects)
    files: dict[str, str] = {}
    binary_files: dict[str, str] = {}  # bytes go to binaryData (base64), as Kubernetes keeps them
    volumes: list[Manifest] = []
    mounts: list[Manifest] = []
    if spec.config_files:
        files_name = names.object_name(app, component, "files")
        for index, config_file in enumerate(spec.config_files):
            key = f"file-{index}"
            if config_file.binary_content:
                binary_files[key] = base64.b64encode(config_file.binary_content).decode()
            else:
                files[key] = references.substitute(
                    config_file.content, lambda ref: _plain_output(data.dependencies, ref, component)
                )
            mounts.append({"name": "config-files", "mountPath": config_file.path, "subPath": key, "readOnly": True})
        files_map: Manifest = {"apiVersion": "v1", "kind": "ConfigMap",
                               "metadata": _metadata(files_name, ns, labels, component), "data": files}
        if binary_files:
            files_map["binaryData"] = binary_files
        out.append(files_map)
        config_volume: Manifest = {"name": files_name}
        if any(config_file.mode for config_file in spec.config_files):
            # Per-file modes (Score's `mode`, e.g. an executable script) need the keys listed.
            config_volume["items"] = [
                {"key": f"file-{index}", "path": f"file-{index}", **({"mode": f.mode} if f.mode else {})}
                for index, f in enumerate(spec.config_files)
            ]
        volumes.append({"name": "config-files", "configMap": config_volume})
    for storage in spec.storage:
        mounts.append({"name": storage.name, "mountPath": storage.path,
                       **({"subPath": storage.sub_path} if storage.sub_path else {})})
    image = data.images.get(component)
    container: Manifest = {
        "name": component,
        "image": image_of(image) if image is not None and image.image else spec.image,
        "envFrom": env_from,
    }
    if synced_env or secret_env:
        container["env"] = synced_env + secret_env
    if spec.command:
        container["command"] = list(spec.command)
    if spec.args:
        container["args"] = list(spec.args)
    if spec.ports:
        container["ports"] = [
            {"name": p.name, "containerPort": p.port, "protocol": p.protocol or "TCP"} for p in spec.ports
        ]
    resources = _resources(spec.resources)
    if resources:
        container["resources"] = resources
    probes = spec.probes
    for present, source, key in (
        (probes.HasField("readiness"), probes.readiness, "readinessProbe"),
        (probes.HasField("liveness"), probes.liveness, "livenessProbe"),
        (probes.HasField("startup"), probes.startup, "startupProbe"),
    ):
        if present and (probe := _probe(source)) is not None:
            container[key] = probe
    if mounts:
        container["volumeMounts"] = mounts
    # App secrets and registry logins count by version (a new value is a new version), so their
    # values never go into a visible hash; without any, the hash is what it was before they existed.
    pull_versions = secret_rendering.versions(data.pull_credentials)
    config_hash = hashlib.sha256(
        json.dumps([plain, secret_data, files] + ([binary_files] if binary_files else [])
                   + ([secret_versions, pull_versions] if secret_versions or pull_versions else []),
                   sort_keys=True).encode()
    ).hexdigest()[:16]
    pod_spec: Manifest = {"serviceAccountName": name, "containers": [container]}
    if data.pull_credentials:
        pod_spec["imagePullSecrets"] = secret_rendering.image_pull_secrets(app, data.pull_credentials)
    if volumes:
        pod_spec["volumes"] = volumes
    template = {
        "metadata": {"labels": {**labels, names.COMPONENT_LABEL: component},
                     "annotations": {names.CONFIG_HASH_ANNOTATION: config_hash}},
        "spec": pod_spec,
    }
    replicas = spec.replicas or 1
    if spec.kind == "job":
        out.append(render_jobs.job_object(app, component, spec, _metadata(name, ns, labels, component), template,
                                          hook=render_jobs.is_hook(data.spec, component)))
        return out
    if spec.ports:
        out.append(
            {"apiVersion": "v1", "kind": "Service", "metadata": _metadata(name, ns, labels, component),
             "spec": {"selector": selector, "ports": [
                 {"name": p.name, "port": p.port, "targetPort": p.name, "protocol": p.protocol or "TCP"}
                 for p in spec.ports]}}
        )
    if spec.storage:
        out.append(
            {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": _metadata(name, ns, labels, component),
             "spec": {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": selector},
                      "template": template,
                      "volumeClaimTemplates": [
                          {"metadata": {"name": s.name},
                           "spec": {"accessModes": ["ReadWriteOnce"],
                                    "resources": {"requests": {"storage": s.size or "1Gi"}}}}
                          for s in spec.storage]}}
        )
    else:
        out.append(
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _metadata(name, ns, labels, component),
             "spec": {"replicas": replicas, "selector": {"matchLabels": selector},
                      "progressDeadlineSeconds": DEFAULT_PROGRESS_DEADLINE, "template": template}}
        )
    workload = out[-1]
    if scaling.autoscaled(spec):
        del workload["spec"]["replicas"]  # the autoscaler's to set, not ours to restore
    out.extend(scaling.scaling_objects(spec, workload, _metadata(name, ns, labels, component), selector))
    return out


def _plain_output(
    dependencies: Mapping[str, DependencyOutputs], ref: references.OutputReference, component: str
) -> str:
    outputs = dependencies.get(ref.dependency)
    found = outputs.lookup(ref.output) if outputs is not None else None
    if found is None or found[1]:
        raise RenderError(
            f"component {component}: a config file references {ref}, "
            "which is not a published non-secret output"
        )
    return found[0]


def component_outputs(spec: application_pb2.ApplicationSpec, application: str, namespace: str) -> dict[str, str]:
    """What other applications may use: ``<component>.host``, ``.port``, ``.url`` (first port)
    and ``<component>.<port name>.port`` / ``.url`` for every port."""
    outputs: dict[str, str] = {}
    for component in sorted(spec.components):
        ports = spec.components[component].ports
        if not ports:
            continue
        host = f"{names.object_name(application, component)}.{namespace}.svc.cluster.local"
        outputs[f"{component}.host"] = host
        for index, port in enumerate(ports):
            url = f"http://{host}:{port.port}"
            outputs[f"{component}.{port.name}.port"] = str(port.port)
            outputs[f"{component}.{port.name}.url"] = url
            if index == 0:
                outputs[f"{component}.port"] = str(port.port)
                outputs[f"{component}.url"] = url
    return outputs


def fingerprint(objects: list[Manifest]) -> str:
    """The content hash of what runs (secret data included, so a new password is a new release)."""
    return hashlib.sha256(json.dumps(objects, sort_keys=True).encode()).hexdigest()


def redacted(manifest: Manifest) -> Manifest:
    """The object as stored in a release: Secret values left out."""
    if manifest.get("kind") != "Secret":
        return manifest
    return {**manifest, "data": {key: "" for key in manifest.get("data", {})}}
