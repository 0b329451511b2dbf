"""Renders app secrets and private-registry logins (pure; ``rendering`` calls it per component).

- ``secretEnv``: one Opaque Secret per component, ``<app>-<component>-secret-env``, holding the
  values of the deployment's Secrets it names (key = the secret's name), and one container env
  entry per variable with ``valueFrom.secretKeyRef``. The values reach the pod only through it.
- ``registryCredentials``: one ``kubernetes.io/dockerconfigjson`` Secret per credential,
  ``<app>-pull-<credential>``, and every pod lists them all in ``imagePullSecrets``.

What rolls the pods: each secret's and credential's version goes into the pod template's config
hash, so setting a new value (a new version) changes the template and Kubernetes rolls the pods.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from threeport.registry.v1alpha1 import application_pb2
from threeport_workload_delivery.domain import names

Manifest = dict[str, Any]


class MissingSecret(ValueError):
    """A component names a secret the deployment has no value for."""


@dataclass(frozen=True)
class SecretValue:
    value: str
    version: int


@dataclass(frozen=True)
class PullCredential:
    server: str
    username: str
    password: str
    version: int


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secret_env_name(application: str, component: str) -> str:
    return names.object_name(application, component, "secret-env")


def pull_secret_name(application: str, credential: str) -> str:
    return names.object_name(application, f"pull-{credential}")


def secret_env(
    application: str, component: str, spec: application_pb2.Component, values: Mapping[str, SecretValue],
    metadata: Manifest,
) -> tuple[list[Manifest], list[Manifest], dict[str, int]]:
    """(objects, container env entries, versions used) for the component's ``secretEnv``."""
    if not spec.secret_env:
        return [], [], {}
    name = secret_env_name(application, component)
    used = sorted({ref.secret for ref in spec.secret_env.values()})
    if missing := [s for s in used if s not in values]:
        raise MissingSecret(f"component {component}: secret(s) {', '.join(missing)} not set for this deployment")
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {**metadata, "name": name},
              "data": {s: _b64(values[s].value) for s in used}}
    env = [{"name": variable, "valueFrom": {"secretKeyRef": {"name": name, "key": spec.secret_env[variable].secret}}}
           for variable in sorted(spec.secret_env)]
    return [secret], env, {s: values[s].version for s in used}


def pull_secrets(application: str, credentials: Mapping[str, PullCredential],
                 metadata: Manifest) -> list[Manifest]:
    """The dockerconfigjson Secrets of the deployment (once per deployment, not per component)."""
    objects = []
    for credential_id in sorted(credentials):
        login = credentials[credential_id]
        config = {"auths": {login.server: {
            "username": login.username, "password": login.password,
            "auth": _b64(f"{login.username}:{login.password}")}}}
        objects.append({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                        "metadata": {**metadata, "name": pull_secret_name(application, credential_id)},
                        "data": {".dockerconfigjson": _b64(json.dumps(config, sort_keys=True))}})
    return objects


def image_pull_secrets(application: str, credentials: Mapping[str, PullCredential]) -> list[Manifest]:
    return [{"name": pull_secret_name(application, c)} for c in sorted(credentials)]


def versions(credentials: Mapping[str, PullCredential]) -> dict[str, int]:
    return {c: credentials[c].version for c in sorted(credentials)}
