"""Who is calling: authentication of service credentials and the caller context variable.

Backends trust exactly one credential, the shared service credential (``authorization:
Service <credential>``, compared in constant time). The gateway, having authenticated a user,
forwards ``x-threeport-principal`` and ``x-threeport-roles`` with that credential; those headers
are honoured only alongside a valid credential. Without them the caller is the calling service
itself, ``service:<x-threeport-service>``.
"""

from __future__ import annotations

import contextvars
import hmac
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from threeport.common.v1alpha1 import annotations_pb2
from threeport_runtime.errors import Unauthenticated

AUTHORIZATION = "authorization"
PRINCIPAL = "x-threeport-principal"
ROLES = "x-threeport-roles"
SERVICE = "x-threeport-service"
SERVICE_SCHEME = "Service "

Role = annotations_pb2.Role

_ROLE_NAMES: dict[str, annotations_pb2.Role.ValueType] = {
    "viewer": annotations_pb2.ROLE_VIEWER,
    "deployer": annotations_pb2.ROLE_DEPLOYER,
    "admin": annotations_pb2.ROLE_ADMIN,
    "operator": annotations_pb2.ROLE_OPERATOR,
}


@dataclass(frozen=True)
class RoleGrant:
    """A role, on one project (``projects/acme``) or global when ``project`` is empty."""

    role: annotations_pb2.Role.ValueType
    project: str = ""

    def __str__(self) -> str:
        name = annotations_pb2.Role.Name(self.role).removeprefix("ROLE_").lower()
        return f"{name}@{self.project}" if self.project else name


@dataclass(frozen=True)
class Caller:
    principal: str
    grants: tuple[RoleGrant, ...] = ()
    is_service: bool = False

    @property
    def is_operator(self) -> bool:
        return any(g.role == annotations_pb2.ROLE_OPERATOR and not g.project for g in self.grants)


current_caller: contextvars.ContextVar[Caller | None] = contextvars.ContextVar("threeport_caller", default=None)

Authenticator = Callable[[Mapping[str, str]], Awaitable[Caller]]


def caller() -> Caller:
    """The caller of the RPC being served; raises Unauthenticated outside an authenticated call."""
    found = current_caller.get()
    if found is None:
        raise Unauthenticated("no authenticated caller for this call")
    return found


def parse_grants(text: str) -> tuple[RoleGrant, ...]:
    """Parses ``operator`` or ``admin@projects/acme,viewer@projects/b``; unknown roles are refused."""
    grants: list[RoleGrant] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, _, project = item.partition("@")
        role = _ROLE_NAMES.get(name.strip().lower())
        if role is None:
            raise Unauthenticated(f"the forwarded role {name!r} is unknown")
        project = project.strip()
        if project and not project.startswith("projects/"):
            project = "projects/" + project
        if role == annotations_pb2.ROLE_OPERATOR:
            project = ""
        grants.append(RoleGrant(role, project))
    return tuple(grants)


def format_grants(grants: tuple[RoleGrant, ...]) -> str:
    return ",".join(str(g) for g in grants)


class ServiceCredentialAuthenticator:
    """The backends' authenticator: the service credential, plus forwarded user identity."""

    def __init__(self, credential: str):
        if not credential:
            raise ValueError("a service credential is required (THREEPORT_SERVICE_CREDENTIAL)")
        self._credential = credential.encode()

    async def __call__(self, metadata: Mapping[str, str]) -> Caller:
        authorization = metadata.get(AUTHORIZATION, "")
        if not authorization.startswith(SERVICE_SCHEME):
            raise Unauthenticated("this service accepts only calls carrying the service credential")
        presented = authorization[len(SERVICE_SCHEME) :].strip().encode()
        if not hmac.compare_digest(presented, self._credential):
            raise Unauthenticated("the service credential is not valid")
        principal = metadata.get(PRINCIPAL, "").strip()
        if principal:
            return Caller(principal=principal, grants=parse_grants(metadata.get(ROLES, "")))
        return Caller(principal=f"service:{metadata.get(SERVICE, 'unknown')}", is_service=True)
