"""``login`` and ``config``: which control plane tptctl talks to, as whom, for which project."""

from __future__ import annotations

import argparse
import os
import sys

from threeport_cli import config
from threeport_cli.config import Context
from threeport_cli.errors import CommandError
from threeport_cli.exit_codes import ExitCode
from threeport_cli.session import client_for


def run_login(options: argparse.Namespace) -> int:
    name = options.context or options.server.replace(":", "-")
    context = Context(name=name, server=options.server, token=options.token, project=options.project or "",
                      tls=options.tls or bool(options.ca_file), ca_file=options.ca_file or "")
    with client_for(context) as client:
        me = client.principal.get_current_principal(timeout=15)
    loaded = config.load()
    loaded.upsert(context)
    loaded.current_context = name
    path = config.save(loaded)
    roles = ", ".join(_binding_text(b) for b in me.role_bindings) or "no roles yet"
    print(f"logged in to {options.server} as {me.principal.name} ({roles}); context {name!r} saved in {path}")
    return ExitCode.OK


def _binding_text(binding: object) -> str:
    spec = binding.spec  # type: ignore[attr-defined]
    role = spec.DESCRIPTOR.fields_by_name["role"].enum_type.values_by_number[spec.role].name
    role = role.removeprefix("ROLE_").lower()
    return f"{role}@{spec.project}" if spec.project else role


def run_get_contexts(_options: argparse.Namespace) -> int:
    loaded = config.load()
    print(f"{'CURRENT':<8} {'NAME':<24} {'SERVER':<28} PROJECT")
    for context in loaded.contexts:
        mark = "*" if context.name == loaded.current_context else ""
        print(f"{mark:<8} {context.name:<24} {context.server:<28} {context.project}")
    return ExitCode.OK


def run_use_context(options: argparse.Namespace) -> int:
    loaded = config.load()
    if loaded.find(options.name) is None:
        known = ", ".join(c.name for c in loaded.contexts) or "none"
        raise CommandError(f"no context named {options.name!r} (known: {known})", ExitCode.NOT_FOUND)
    loaded.current_context = options.name
    config.save(loaded)
    print(f"switched to context {options.name!r}")
    return ExitCode.OK


def run_current_context(_options: argparse.Namespace) -> int:
    current = config.load().current_context
    if not current:
        print("no current context (tptctl login or tptctl up)", file=sys.stderr)
        return ExitCode.ERROR
    print(current)
    return ExitCode.OK


def run_set_context(options: argparse.Namespace) -> int:
    loaded = config.load()
    context = config.resolve(loaded, options.name)
    if options.project is not None:
        context.project = options.project
    config.save(loaded)
    print(f"context {context.name!r}: project {context.project or '(none)'}")
    return ExitCode.OK


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    login = commands.add_parser(
        "login", help="save a context for a control plane after checking the token",
        description="Check TOKEN against the gateway at SERVER, then save it as a context "
        "(in $THREEPORT_CONFIG or ~/.config/threeport/config.yaml, mode 0600) and make it current.",
    )
    server, token = os.environ.get("THREEPORT_SERVER"), os.environ.get("THREEPORT_TOKEN")
    login.add_argument("--server", required=not server, default=server,
                       help="the gateway, HOST:PORT (default: $THREEPORT_SERVER)")
    login.add_argument("--token", required=not token, default=token,
                       help="an API token, tp_... (default: $THREEPORT_TOKEN, which keeps it off the command line)")
    login.add_argument("--context", help="the context's name (default: derived from --server)")
    login.add_argument("-p", "--project", help="the default project for this context")
    login.add_argument("--tls", action="store_true", help="connect with TLS (system roots)")
    login.add_argument("--ca-file", help="connect with TLS, trusting this CA bundle")
    login.set_defaults(run=run_login)

    config_parser = commands.add_parser("config", help="show and switch contexts")
    verbs = config_parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    verbs.add_parser("get-contexts", help="list contexts").set_defaults(run=run_get_contexts)
    use = verbs.add_parser("use-context", help="make a context current")
    use.add_argument("name")
    use.set_defaults(run=run_use_context)
    current = verbs.add_parser("current-context", help="print the current context")
    current.set_defaults(run=run_current_context)
    set_context = verbs.add_parser("set-context", help="change a context's default project")
    set_context.add_argument("name", nargs="?", help="the context (default: the current one)")
    set_context.add_argument("-p", "--project", help="the default project")
    set_context.set_defaults(run=run_set_context)
