"""Validation of what an application or environment says about secrets it does not hold:
``secretEnv`` (names of the deployment's Secrets, kept by workload-delivery) and
``registryCredentials`` (ids of the project's RegistryCredentials). The values are set apart
(``tptctl secret set``, ``tptctl registry-credential add``) and checked when a deployment renders."""

from __future__ import annotations

from collections.abc import Iterable

from threeport.registry.v1alpha1 import application_pb2
from threeport_model import names
from threeport_registry.domain import field_paths as fp


def validate_secret_env(component: application_pb2.Component, at: str, violations: fp.Violations) -> None:
    for variable, ref in component.secret_env.items():
        entry = fp.key(fp.child(at, "secret_env"), variable)
        if error := names.check_env_var_name(variable):
            violations.add(entry, error)
        if variable in component.env:
            violations.add(entry, f"{variable} is also in env; a variable comes from env or secretEnv, not both")
        if error := names.check_id(ref.secret):
            violations.add(fp.child(entry, "secret"), f"a secret name: {error}")


def validate_registry_credentials(ids: Iterable[str], at: str, violations: fp.Violations) -> None:
    for position, credential in enumerate(ids):
        if error := names.check_id(credential):
            violations.add(fp.index(at, position), f"a RegistryCredential id: {error}")
