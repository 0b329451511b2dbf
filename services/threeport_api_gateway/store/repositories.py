"""The runtime's resource repositories for the gateway's four resource types, plus the one
query they cannot express: listing only the projects a caller may see."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from threeport.gateway.v1alpha1 import principal_pb2, project_pb2, role_binding_pb2, token_pb2
from threeport_api_gateway.store.tables import PrincipalRow, ProjectRow, RoleBindingRow, TokenRow
from threeport_runtime.db.engine import Database
from threeport_runtime.db.page_tokens import PageTokenCodec
from threeport_runtime.db.repository import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, ResourceRepository
from threeport_runtime.errors import FieldViolation, InvalidArgument
from threeport_runtime.runtime import ServiceRuntime

Projects = ResourceRepository[project_pb2.Project, ProjectRow]
Principals = ResourceRepository[principal_pb2.Principal, PrincipalRow]
Tokens = ResourceRepository[token_pb2.Token, TokenRow]
RoleBindings = ResourceRepository[role_binding_pb2.RoleBinding, RoleBindingRow]


@dataclass(frozen=True)
class Repositories:
    projects: Projects
    principals: Principals
    tokens: Tokens
    role_bindings: RoleBindings
    page_tokens: PageTokenCodec
    db: Database

    @classmethod
    def create(cls, runtime: ServiceRuntime) -> Repositories:
        return cls(
            projects=runtime.repository(
                ProjectRow, project_pb2.Project, filter_fields={"spec.display_name": "spec.display_name"}
            ),
            principals=runtime.repository(
                PrincipalRow,
                principal_pb2.Principal,
                filter_fields={
                    "spec.type": "spec.type",
                    "spec.email": "spec.email",
                    "spec.display_name": "spec.display_name",
                    "spec.disabled": "spec.disabled",
                },
            ),
            tokens=runtime.repository(TokenRow, token_pb2.Token),
            role_bindings=runtime.repository(
                RoleBindingRow,
                role_binding_pb2.RoleBinding,
                filter_fields={
                    "spec.principal": "spec.principal",
                    "spec.project": "spec.project",
                    "spec.role": "spec.role",
                },
            ),
            page_tokens=runtime.page_tokens,
            db=runtime.db,
        )

    async def list_projects_among(
        self,
        names: set[str],
        *,
        page_size: int = 0,
        page_token: str = "",
        filter_text: str = "",
        hide_deleting: bool = False,
    ) -> tuple[list[project_pb2.Project], str]:
        """Like ``projects.list`` but restricted to ``names`` (the projects a caller has roles on)."""
        if page_size < 0:
            raise InvalidArgument.for_fields([FieldViolation("page_size", "must not be negative")])
        size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        fingerprint = PageTokenCodec.fingerprint("visible-projects", sorted(names), filter_text, hide_deleting)
        query = select(ProjectRow).where(ProjectRow.name.in_(sorted(names)), self.projects.compile_filter(filter_text))
        if hide_deleting:
            query = query.where(ProjectRow.delete_time.is_(None))
        if page_token:
            query = query.where(ProjectRow.name > self.page_tokens.decode(page_token, fingerprint))
        async with self.db.session() as session:
            rows = list((await session.scalars(query.order_by(ProjectRow.name).limit(size + 1))).all())
        next_token = ""
        if len(rows) > size:
            rows = rows[:size]
            next_token = self.page_tokens.encode(rows[-1].name, fingerprint)
        return [self.projects.to_message(row) for row in rows], next_token
