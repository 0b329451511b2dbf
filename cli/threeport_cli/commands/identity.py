"""``project`` and ``token``: tenants and API credentials (for people and for CI)."""

from __future__ import annotations

import argparse
import contextlib
import re
import sys

from google.protobuf import duration_pb2

from threeport.common.v1alpha1 import annotations_pb2
from threeport.gateway.v1alpha1 import principal_pb2, project_pb2, role_binding_pb2, token_pb2
from threeport.sdk import AlreadyExistsError, Client
from threeport_cli.durations import parse_duration
from threeport_cli.errors import CommandError
from threeport_cli.exit_codes import ExitCode
from threeport_cli.printers import render_table
from threeport_cli.session import client_for, context_for

ROLES = ("viewer", "deployer", "admin", "operator")


def run_project_create(options: argparse.Namespace) -> int:
    with client_for(context_for(options)) as client:
        spec = project_pb2.ProjectSpec(display_name=options.display_name or "")
        project = client.project.create_project(
            project_id=options.name, project=project_pb2.Project(spec=spec))
    print(f"project/{project.name.rsplit('/', 1)[-1]} created")
    return ExitCode.OK


def ensure_service_account(client: Client, name: str) -> tuple[str, bool]:
    """The service account's name, and whether this call created it."""
    spec = principal_pb2.PrincipalSpec(type=principal_pb2.PRINCIPAL_TYPE_SERVICE_ACCOUNT, display_name=name)
    try:
        client.principal.create_principal(principal_id=name, principal=principal_pb2.Principal(spec=spec))
    except AlreadyExistsError:  # reusing an existing service account is the point
        return f"principals/{name}", False
    return f"principals/{name}", True


def ensure_binding(client: Client, principal: str, project: str, role: str) -> str:
    """The binding's name if this call created it, else ''."""
    role_value = annotations_pb2.Role.Value(f"ROLE_{role.upper()}")
    account = principal.rsplit("/", 1)[-1]
    binding_id = re.sub(r"[^a-z0-9-]", "-", f"{account}-{project or 'global'}-{role}")[:63]
    spec = role_binding_pb2.RoleBindingSpec(
        principal=principal, role=role_value, project=f"projects/{project}" if project else "")
    try:
        created = client.role_binding.create_role_binding(
            role_binding_id=binding_id.strip("-"), role_binding=role_binding_pb2.RoleBinding(spec=spec))
    except AlreadyExistsError:  # the grant exists already
        return ""
    return created.name


def run_token_create(options: argparse.Namespace) -> int:
    if options.role == "operator" and options.project:
        raise CommandError("operator is a global role; drop --project", ExitCode.USAGE)
    if options.role != "operator" and not options.project:
        raise CommandError(f"{options.role} is a project role; give --project", ExitCode.USAGE)
    ttl = duration_pb2.Duration(seconds=int(parse_duration(options.ttl))) if options.ttl else None
    with client_for(context_for(options)) as client:
        principal, new_principal = ensure_service_account(client, options.name)
        binding = ""
        try:
            binding = ensure_binding(client, principal, options.project or "", options.role)
            created = client.token.create_token(
                parent=principal, token_id=options.token_id,
                token=token_pb2.Token(spec=token_pb2.TokenSpec(description=options.description or "")), ttl=ttl,
            )
        except Exception:
            # A failed create leaves nothing behind: no principal, no grant without a token.
            with contextlib.suppress(Exception):
                if new_principal:  # deleting a principal deletes its bindings too
                    client.principal.delete_principal(name=principal, force=True)
                elif binding:
                    client.role_binding.delete_role_binding(name=binding)
            raise
    print(f"token {created.token.name} created for {principal} ({options.role}"
          f"{' on ' + options.project if options.project else ''}).", file=sys.stderr)
    print("It is shown only now; store it as a CI secret:", file=sys.stderr)
    print(created.secret)
    return ExitCode.OK


def principal_name(text: str) -> str:
    """``ci-shop`` or ``principals/ci-shop`` -> ``principals/ci-shop``."""
    return text if text.startswith("principals/") else f"principals/{text}"


def run_token_list(options: argparse.Namespace) -> int:
    with client_for(context_for(options)) as client:
        principals = [principal_name(options.principal)] if options.principal else [
            p.name for p in client.principal.list_principals()]
        table = [["PRINCIPAL", "TOKEN-ID", "PREFIX", "EXPIRES", "REVOKED", "DESCRIPTION"]]
        for principal in principals:
            for token in client.token.list_tokens(parent=principal):
                spec = token.spec
                expires = "never"
                if spec.expire_time.seconds:
                    expires = spec.expire_time.ToDatetime().strftime("%Y-%m-%d %H:%M")
                revoked = "yes" if spec.revoke_time.seconds else "no"
                table.append([principal.removeprefix("principals/"), token.name.rsplit("/", 1)[-1],
                              spec.prefix, expires, revoked, spec.description])
    print(render_table(table))
    print("revoke with: tptctl token revoke PRINCIPAL [--token-id TOKEN-ID]", file=sys.stderr)
    return ExitCode.OK


def tokens_to_revoke(client: Client, name: str, token_id: str) -> list[str]:
    """The full names of the tokens ``revoke NAME [--token-id ID]`` means (not yet revoked)."""
    if "/tokens/" in name:
        if token_id and not name.endswith(f"/tokens/{token_id}"):
            raise CommandError(f"{name} names a token already; drop --token-id", ExitCode.USAGE)
        return [name]
    principal = principal_name(name)
    if token_id:
        return [f"{principal}/tokens/{token_id}"]
    live = [t.name for t in client.token.list_tokens(parent=principal) if not t.spec.revoke_time.seconds]
    if not live:
        raise CommandError(f"{principal} has no tokens that are not revoked already (tptctl token list)",
                           ExitCode.NOT_FOUND)
    return live


def run_token_revoke(options: argparse.Namespace) -> int:
    with client_for(context_for(options)) as client:
        names = tokens_to_revoke(client, options.name, options.token_id or "")
        for name in names:
            client.token.revoke_token(name=name)
            print(f"token {name} revoked")
    return ExitCode.OK


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    project = commands.add_parser("project", help="manage projects (operators)")
    project_verbs = project.add_subparsers(dest="verb", metavar="VERB", required=True)
    create = project_verbs.add_parser("create", help="create a project")
    create.add_argument("name")
    create.add_argument("--display-name")
    create.add_argument("--context")
    create.set_defaults(run=run_project_create)

    token = commands.add_parser("token", help="manage API tokens (for CI and people)")
    token_verbs = token.add_subparsers(dest="verb", metavar="VERB", required=True)
    token_create = token_verbs.add_parser(
        "create", help="create a service account with a role and a token for it",
        description="Create (or reuse) the service account NAME, grant it ROLE (on --project for "
        "viewer/deployer/admin), and print a new token for it once. For CI: --role deployer.",
    )
    token_create.add_argument("name", help="the service account, e.g. ci-ledger")
    token_create.add_argument("-p", "--project", help="the project the role applies to")
    token_create.add_argument("--role", choices=ROLES, required=True)
    token_create.add_argument("--ttl", help="lifetime, e.g. 30d (default: no expiry)")
    token_create.add_argument("--token-id", default="default", help="the token's id (default: default)")
    token_create.add_argument("--description")
    token_create.add_argument("--context")
    token_create.set_defaults(run=run_token_create)
    token_list = token_verbs.add_parser("list", help="list tokens (secrets are never shown)")
    token_list.add_argument("--principal", help="only this principal's tokens")
    token_list.add_argument("--context")
    token_list.set_defaults(run=run_token_list)
    revoke = token_verbs.add_parser(
        "revoke", help="revoke a service account's tokens, or one of them",
        description="Revoke every token of the service account NAME (as given to token create), or "
        "only --token-id ID. A full token name, principals/NAME/tokens/ID, works too. "
        "tptctl token list shows the PRINCIPAL and TOKEN-ID of each token.")
    revoke.add_argument("name", help="the service account (ci-shop), or principals/NAME/tokens/ID")
    revoke.add_argument("--token-id", help="only this token (default: all of its tokens)")
    revoke.add_argument("--context")
    revoke.set_defaults(run=run_token_revoke)
