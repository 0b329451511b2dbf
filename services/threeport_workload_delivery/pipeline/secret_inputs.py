"""Reads what a deployment's rendering needs from the secret stores: the values its components'
``secretEnv`` names, and the registry credentials its application and environment name. Missing
ones stop the reconcile with a reason that says which command sets them (nothing half-rendered)."""

from __future__ import annotations

from dataclasses import dataclass

from threeport.delivery.v1alpha1 import deployment_pb2, registry_credential_pb2, secret_pb2
from threeport.registry.v1alpha1 import application_pb2, environment_pb2
from threeport_runtime.db.repository import ResourceRepository
from threeport_workload_delivery.domain.secret_rendering import PullCredential, SecretValue
from threeport_workload_delivery.pipeline.inputs import Inputs, NotReady
from threeport_workload_delivery.store.tables import RegistryCredentialRow, SecretRow

Secrets = ResourceRepository[secret_pb2.Secret, SecretRow]
Credentials = ResourceRepository[registry_credential_pb2.RegistryCredential, RegistryCredentialRow]
NO_KEYS = ("workload-delivery has no encryption keys, so it keeps no secrets: set THREEPORT_ENCRYPTION_KEYS "
           "for it")


def wanted_secrets(spec: application_pb2.ApplicationSpec) -> list[str]:
    return sorted({ref.secret for c in spec.components.values() for ref in c.secret_env.values()})


async def fill(sources: SecretSources, deployment: deployment_pb2.Deployment, inputs: Inputs) -> None:
    """Reads the secret values and registry logins ``inputs`` renders with into it."""
    inputs.secret_values = await sources.values(deployment.name, deployment.spec.application,
                                                deployment.spec.environment, inputs.spec)
    inputs.pull_credentials = await sources.pull_credentials(
        inputs.project, wanted_credentials(inputs.spec, inputs.environment))


def wanted_credentials(spec: application_pb2.ApplicationSpec, environment: environment_pb2.Environment) -> list[str]:
    return sorted(set(spec.registry_credentials) | set(environment.spec.registry_credentials))


@dataclass
class SecretSources:
    secrets: Secrets | None
    credentials: Credentials | None

    async def values(self, deployment: str, application: str, environment: str,
                     spec: application_pb2.ApplicationSpec) -> dict[str, SecretValue]:
        wanted = wanted_secrets(spec)
        if not wanted:
            return {}
        if self.secrets is None:
            raise NotReady("SecretsUnavailable", NO_KEYS, 60.0)
        found: dict[str, SecretValue] = {}
        missing = []
        for secret in wanted:
            stored = await self.secrets.find(f"{deployment}/secrets/{secret}")
            if stored is None or stored.HasField("delete_time"):
                missing.append(secret)
            else:
                found[secret] = SecretValue(stored.spec.value, stored.generation)
        if missing:
            commands = "; ".join(f"tptctl secret set {application} {s} --env {environment}" for s in missing)
            raise NotReady("SecretMissing", f"secret(s) {', '.join(missing)} not set for this deployment: {commands}",
                           30.0)
        return found

    async def pull_credentials(self, project: str, ids: list[str]) -> dict[str, PullCredential]:
        if not ids:
            return {}
        if self.credentials is None:
            raise NotReady("SecretsUnavailable", NO_KEYS, 60.0)
        found: dict[str, PullCredential] = {}
        for credential_id in ids:
            stored = await self.credentials.find(f"projects/{project}/registryCredentials/{credential_id}")
            if stored is None or stored.HasField("delete_time"):
                raise NotReady("RegistryCredentialMissing",
                               f"registry credential {credential_id!r} does not exist in {project}: "
                               f"tptctl registry-credential add {credential_id} --server ... --username ... "
                               "--password-stdin", 30.0)
            found[credential_id] = PullCredential(stored.spec.server, stored.spec.username, stored.spec.password,
                                                  stored.generation)
        return found

