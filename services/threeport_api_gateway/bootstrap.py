"""The first start: an administrator principal with the ``operator`` role and one token.

Replicas starting together serialize on a Postgres advisory lock, and a marker row records that
bootstrap finished, so exactly one administrator is ever created. A start that crashed half way
is finished by the next one: the principal and its binding are created idempotently (fixed
request ids) and a fresh token is issued. The token text is returned once, to be printed or
written to a file readable only by its owner. With a preset token (an installer generated it and
keeps it in a Kubernetes Secret) that exact text becomes the token and nothing is returned.
"""

from __future__ import annotations

import os
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, insert, select

from threeport.common.v1alpha1 import annotations_pb2
from threeport.gateway.v1alpha1 import principal_pb2, role_binding_pb2
from threeport_api_gateway.api.readiness import settle
from threeport_api_gateway.api.tokens import TokenIssuer
from threeport_api_gateway.domain import tokens
from threeport_api_gateway.store.identities import IdentityStore
from threeport_api_gateway.store.repositories import Repositories
from threeport_api_gateway.store.tables import BootstrapRow
from threeport_runtime.db.engine import Database


@dataclass(frozen=True)
class Preset:
    """A bootstrap token text chosen before the first start, and where to record it."""

    text: str = field(repr=False)
    identities: IdentityStore


# An arbitrary constant shared by every replica: "tpgw" in ASCII.
_LOCK_KEY = 0x74706777


async def bootstrap_admin(
    db: Database,
    repositories: Repositories,
    issuer: TokenIssuer,
    principal_id: str,
    preset: Preset | None = None,
) -> str | None:
    """Creates the first administrator; returns its token text, or None when already done (or
    when the token is the preset one, which its owner already has)."""
    async with db.engine.connect() as lock:
        await lock.execute(select(func.pg_advisory_lock(_LOCK_KEY)))
        try:
            async with db.session() as session:
                if await session.scalar(select(BootstrapRow.id)) is not None:
                    return None
            name = f"principals/{principal_id}"
            if await repositories.principals.find(name) is None:
                principal = principal_pb2.Principal(
                    spec=principal_pb2.PrincipalSpec(
                        type=principal_pb2.PRINCIPAL_TYPE_USER, display_name="Bootstrap administrator"
                    )
                )
                created = await repositories.principals.create(principal, name=name, request_id=f"bootstrap:{name}")
                await settle(repositories.principals, created)
            binding_name = f"roleBindings/{principal_id}-operator"
            if await repositories.role_bindings.find(binding_name) is None:
                binding = role_binding_pb2.RoleBinding(
                    spec=role_binding_pb2.RoleBindingSpec(principal=name, role=annotations_pb2.ROLE_OPERATOR)
                )
                created_binding = await repositories.role_bindings.create(
                    binding, name=binding_name, request_id=f"bootstrap:{binding_name}"
                )
                await settle(repositories.role_bindings, created_binding)
            issued, text = await issuer.issue(
                name, f"bootstrap-{secrets.token_hex(3)}", description="created at first start"
            )
            if preset is not None:
                presented = tokens.parse(preset.text)
                await preset.identities.adopt_token(
                    uuid.UUID(issued.uid), presented.uid, tokens.hash_secret(presented.secret)
                )
                text = ""
            async with db.session() as session, session.begin():
                await session.execute(insert(BootstrapRow).values(id=1, principal=name, completed_at=datetime.now(UTC)))
            return text or None
        finally:
            await lock.execute(select(func.pg_advisory_unlock(_LOCK_KEY)))
            await lock.commit()


def write_token_file(path: Path, text: str) -> None:
    """Writes the token readable by its owner only (0600), replacing any older file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
