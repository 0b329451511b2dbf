"""``tptctl secret set|list|delete`` (a deployment's app secrets) and ``tptctl registry-credential
add|get|list|delete`` (a project's private-registry logins).

Values are read from standard input (or ``--from-literal``), sent once over the gateway, stored
encrypted by workload-delivery and never printed back: listings show names, versions and times.
"""

from __future__ import annotations

import argparse
import sys

from threeport.delivery.v1alpha1 import registry_credential_pb2, secret_pb2
from threeport_cli.errors import CommandError
from threeport_cli.exit_codes import ExitCode
from threeport_cli.printers import age_text, render_table
from threeport_cli.session import add_context_flags, client_for, context_for, project_for


def _project(options: argparse.Namespace) -> str:
    project = project_for(options, context_for(options))
    if not project:
        raise CommandError("no project: pass --project or set one in the context", ExitCode.USAGE)
    return project


def _deployment(options: argparse.Namespace) -> str:
    return f"projects/{_project(options)}/deployments/{options.application}-{options.env}"


def read_stdin(what: str) -> str:
    """Everything on standard input without one trailing newline (what ``echo`` adds)."""
    if sys.stdin.isatty():
        print(f"reading {what} from standard input (end with Ctrl-D)", file=sys.stderr)
    text = sys.stdin.read()
    text = text[:-1] if text.endswith("\n") else text
    if not text:
        raise CommandError(f"{what}: standard input was empty", ExitCode.USAGE)
    return text


def run_secret_set(options: argparse.Namespace) -> int:
    value = options.from_literal if options.from_literal is not None else read_stdin("the value")
    name = f"{_deployment(options)}/secrets/{options.name}"
    with client_for(context_for(options)) as client:
        stored = client.secret.update_secret(
            secret=secret_pb2.Secret(name=name, spec=secret_pb2.SecretSpec(value=value)), allow_missing=True)
    print(f"secret/{options.name} set for {options.application} in {options.env} (version {stored.generation}); "
          "the pods that use it roll")
    return ExitCode.OK


def run_secret_list(options: argparse.Namespace) -> int:
    with client_for(context_for(options)) as client:
        found = list(client.secret.list_secrets(parent=_deployment(options)))
    table = [["NAME", "VERSION", "UPDATED"]]
    table += [[s.name.rsplit("/", 1)[-1], str(s.generation), age_text(s, field="update_time")] for s in found]
    print(render_table(table))
    return ExitCode.OK


def run_secret_delete(options: argparse.Namespace) -> int:
    with client_for(context_for(options)) as client:
        client.secret.delete_secret(name=f"{_deployment(options)}/secrets/{options.name}")
    print(f"secret/{options.name} deleted from {options.application} in {options.env}")
    return ExitCode.OK


def _credential(options: argparse.Namespace) -> str:
    return f"projects/{_project(options)}/registryCredentials/{options.name}"


def run_credential_add(options: argparse.Namespace) -> int:
    if not options.password_stdin:
        raise CommandError("give the password on standard input with --password-stdin (never as an argument, "
                           "where shell history and process listings would keep it)", ExitCode.USAGE)
    password = read_stdin("the password")
    spec = registry_credential_pb2.RegistryCredentialSpec(server=options.server, username=options.username,
                                                          password=password)
    with client_for(context_for(options)) as client:
        client.registry_credential.create_registry_credential(
            parent=f"projects/{_project(options)}", registry_credential_id=options.name,
            registry_credential=registry_credential_pb2.RegistryCredential(spec=spec))
    print(f"registryCredential/{options.name} added for {options.server}; name it in an application's or "
          "environment's registryCredentials")
    return ExitCode.OK


def _credential_rows(found: list[registry_credential_pb2.RegistryCredential]) -> list[list[str]]:
    table = [["NAME", "SERVER", "USERNAME", "VERSION", "UPDATED"]]
    table += [[c.name.rsplit("/", 1)[-1], c.spec.server, c.spec.username, str(c.generation),
               age_text(c, field="update_time")] for c in found]
    return table


def run_credential_get(options: argparse.Namespace) -> int:
    with client_for(context_for(options)) as client:
        found = client.registry_credential.get_registry_credential(name=_credential(options))
    print(render_table(_credential_rows([found])))
    return ExitCode.OK


def run_credential_list(options: argparse.Namespace) -> int:
    with client_for(context_for(options)) as client:
        found = list(client.registry_credential.list_registry_credentials(parent=f"projects/{_project(options)}"))
    print(render_table(_credential_rows(found)))
    return ExitCode.OK


def run_credential_delete(options: argparse.Namespace) -> int:
    with client_for(context_for(options)) as client:
        client.registry_credential.delete_registry_credential(name=_credential(options))
    print(f"registryCredential/{options.name} deleted")
    return ExitCode.OK


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    secret = commands.add_parser(
        "secret", help="set, list and delete a deployment's secrets (values for secretEnv)",
        description="A secret is a value one deployment (APPLICATION in --env) receives in the variables its "
        "components map to it with secretEnv: {VAR: {secret: NAME}}. Values are stored encrypted, delivered only "
        "as a Kubernetes Secret in the deployment's namespace, and never shown again; setting a new value rolls "
        "the pods that use it.")
    verbs = secret.add_subparsers(dest="verb", metavar="VERB", required=True)
    set_ = verbs.add_parser("set", help="set a secret's value (read from standard input, or --from-literal)",
                            description="Set NAME for APPLICATION in --env. The value is read from standard input "
                            "(one trailing newline dropped), e.g. `printf %s \"$KEY\" | tptctl secret set shop "
                            "stripe-key --env prod`, or given with --from-literal (visible in shell history).")
    set_.add_argument("application")
    set_.add_argument("name", help="the secret's name, as secretEnv names it (a DNS-1123 label)")
    set_.add_argument("--env", required=True, help="the environment, e.g. prod")
    set_.add_argument("--from-literal", metavar="VALUE", help="the value itself instead of standard input")
    add_context_flags(set_)
    set_.set_defaults(run=run_secret_set)
    listing = verbs.add_parser("list", help="the secrets of a deployment: names, versions, when set (no values)")
    listing.add_argument("application")
    listing.add_argument("--env", required=True)
    add_context_flags(listing)
    listing.set_defaults(run=run_secret_list)
    delete = verbs.add_parser("delete", help="delete a secret (deployments using it stop rendering until set again)")
    delete.add_argument("application")
    delete.add_argument("name")
    delete.add_argument("--env", required=True)
    add_context_flags(delete)
    delete.set_defaults(run=run_secret_delete)

    credential = commands.add_parser(
        "registry-credential", help="logins for private image registries (project admins)",
        description="A registry credential lets the project's deployments pull private images: name it in an "
        "application's or environment's registryCredentials and every pod gets it as an imagePullSecret "
        "(a kubernetes.io/dockerconfigjson Secret). The password is stored encrypted and never shown.")
    cverbs = credential.add_subparsers(dest="verb", metavar="VERB", required=True)
    add = cverbs.add_parser("add", help="add a login (the password from standard input)")
    add.add_argument("name", help="the credential's id (a DNS-1123 label)")
    add.add_argument("--server", required=True, help="the registry host, e.g. registry.example.com or ghcr.io")
    add.add_argument("--username", required=True)
    add.add_argument("--password-stdin", action="store_true", help="read the password or token from standard input")
    add_context_flags(add)
    add.set_defaults(run=run_credential_add)
    get = cverbs.add_parser("get", help="one login's server, user and version (never the password)")
    get.add_argument("name")
    add_context_flags(get)
    get.set_defaults(run=run_credential_get)
    clist = cverbs.add_parser("list", help="the project's logins (never the passwords)")
    add_context_flags(clist)
    clist.set_defaults(run=run_credential_list)
    cdelete = cverbs.add_parser("delete", help="delete a login")
    cdelete.add_argument("name")
    add_context_flags(cdelete)
    cdelete.set_defaults(run=run_credential_delete)
