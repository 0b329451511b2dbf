"""SecretService and RegistryCredentialService: standard methods over write-only values.

Why workload-delivery owns them: it is the only reader of the plain values (it renders them into
Kubernetes Secrets in the deployment's namespace), so they never cross a service boundary; and
an app secret belongs to a deployment (application x environment), which delivery owns.

The values (``Secret.spec.value``, ``RegistryCredential.spec.password``) are sealed field by field
before they are stored (the runtime's ``secret_fields``, bound to the row's uid) and every
response leaves them empty: nothing returns a value, not even to its writer. An update without
a password keeps the stored one (renaming a login's user needs no retyping). Without encryption
keys the service refuses every call rather than store a value in the clear.
"""

from __future__ import annotations

import re
from typing import Any

from threeport.delivery.v1alpha1 import (
    registry_credential_pb2,
    registry_credential_pb2_grpc,
    secret_pb2,
    secret_pb2_grpc,
)
from threeport_runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument
from threeport_runtime.reconcile.status import mark_ready
from threeport_runtime.rpc.standard_methods import StandardMethods

Context = Any
MAX_VALUE_BYTES = 512 * 1024  # a Kubernetes Secret holds at most 1 MiB, base64 and all
SERVER = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$")
NO_KEYS = ("workload-delivery has no encryption keys, so it stores no secrets: set THREEPORT_ENCRYPTION_KEYS "
           "(or THREEPORT_ENCRYPTION_KEYS_FILE) for it")


def check_secret(secret: secret_pb2.Secret) -> None:
    if not secret.spec.value:
        raise InvalidArgument.for_fields([FieldViolation(
            "secret.spec.value", "is required: give the value on standard input or with --from-literal")])
    if len(secret.spec.value.encode()) > MAX_VALUE_BYTES:
        raise InvalidArgument.for_fields([FieldViolation(
            "secret.spec.value", f"is larger than {MAX_VALUE_BYTES // 1024} KiB; keep large files elsewhere")])


def check_registry_credential(credential: registry_credential_pb2.RegistryCredential) -> None:
    spec = credential.spec
    violations = []
    if not SERVER.match(spec.server):
        violations.append(FieldViolation(
            "registry_credential.spec.server",
            "a registry host with an optional port, e.g. registry.example.com or localhost:5000 (no https://)"))
    if not spec.username:
        violations.append(FieldViolation("registry_credential.spec.username", "is required"))
    if not spec.password:
        violations.append(FieldViolation("registry_credential.spec.password",
                                         "is required: pass it on standard input with --password-stdin"))
    if violations:
        raise InvalidArgument.for_fields(violations)


def hidden_secret(secret: secret_pb2.Secret) -> secret_pb2.Secret:
    shown = secret_pb2.Secret()
    shown.CopyFrom(secret)
    shown.spec.value = ""
    return shown


Credential = registry_credential_pb2.RegistryCredential


def hidden_credential(credential: Credential) -> Credential:
    shown = Credential()
    shown.CopyFrom(credential)
    shown.spec.password = ""
    return shown


async def stored(methods: StandardMethods[Any], written: Any, validate_only: bool) -> Any:
    """Ready once written: nothing reconciles a stored value, so it is ready as soon as it is kept
    (``apply --wait`` and ``wait_ready`` work on these as on any resource)."""
    if validate_only or not written.name:
        return written

    def ready(resource: Any) -> None:
        mark_ready(resource, ready=True, reason="Stored", message="stored encrypted")

    return await methods.repository.update_status(written.name, ready) or written


class SecretServicer(secret_pb2_grpc.SecretServiceServicer):
    def __init__(self, methods: StandardMethods[secret_pb2.Secret] | None):
        self._given = methods

    @property
    def _methods(self) -> StandardMethods[secret_pb2.Secret]:
        if self._given is None:
            raise FailedPrecondition(NO_KEYS)
        return self._given

    async def CreateSecret(self, request: Any, context: Context) -> secret_pb2.Secret:
        return hidden_secret(await stored(self._methods, await self._methods.create(request), request.validate_only))

    async def GetSecret(self, request: Any, context: Context) -> secret_pb2.Secret:
        return hidden_secret(await self._methods.get(request))

    async def ListSecrets(self, request: Any, context: Context) -> secret_pb2.ListSecretsResponse:
        listed = await self._methods.list(request, secret_pb2.ListSecretsResponse)
        return secret_pb2.ListSecretsResponse(secrets=[hidden_secret(s) for s in listed.secrets],
                                              next_page_token=listed.next_page_token)

    async def UpdateSecret(self, request: Any, context: Context) -> secret_pb2.Secret:
        return hidden_secret(await stored(self._methods, await self._methods.update(request), request.validate_only))

    async def DeleteSecret(self, request: Any, context: Context) -> secret_pb2.Secret:
        return hidden_secret(await self._methods.delete(request))


class RegistryCredentialServicer(registry_credential_pb2_grpc.RegistryCredentialServiceServicer):
    def __init__(self, methods: StandardMethods[registry_credential_pb2.RegistryCredential] | None):
        self._given = methods

    @property
    def _methods(self) -> StandardMethods[registry_credential_pb2.RegistryCredential]:
        if self._given is None:
            raise FailedPrecondition(NO_KEYS)
        return self._given

    async def CreateRegistryCredential(self, request: Any, context: Context) -> Any:
        return hidden_credential(await stored(self._methods, await self._methods.create(request),
                                              request.validate_only))

    async def GetRegistryCredential(self, request: Any, context: Context) -> Any:
        return hidden_credential(await self._methods.get(request))

    async def ListRegistryCredentials(self, request: Any, context: Context) -> Any:
        listed = await self._methods.list(request, registry_credential_pb2.ListRegistryCredentialsResponse)
        return registry_credential_pb2.ListRegistryCredentialsResponse(
            registry_credentials=[hidden_credential(c) for c in listed.registry_credentials],
            next_page_token=listed.next_page_token)

    async def UpdateRegistryCredential(self, request: Any, context: Context) -> Any:
        incoming = request.registry_credential
        if not incoming.spec.password:
            current = await self._methods.repository.find(incoming.name)
            if current is not None:
                incoming.spec.password = current.spec.password  # kept: the update did not give one
        return hidden_credential(await stored(self._methods, await self._methods.update(request),
                                              request.validate_only))

    async def DeleteRegistryCredential(self, request: Any, context: Context) -> Any:
        return hidden_credential(await self._methods.delete(request))
