"""Entry point of ``tptctl``: builds the command tree and turns outcomes into exit codes.

Only the module of the command being run is imported (the SDK, gRPC and the database drivers
are slow to import), so ``tptctl --version`` and ``tptctl config ...`` start at once; ``--help``
without a command imports them all to list them.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from threeport_cli import __version__
from threeport_cli.exit_codes import ExitCode

DESCRIPTION = """\
tptctl drives a Threeport control plane: give it one definition of an application and it
provides the cluster, the supporting services and the managed services the app depends on,
then runs it.

Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 conflict, 5 invalid input,
6 unauthenticated or permission denied, 7 timed out waiting.
Configuration: $THREEPORT_CONFIG or ~/.config/threeport/config.yaml; --context picks a context;
$THREEPORT_SERVER, $THREEPORT_TOKEN and $THREEPORT_CA_FILE configure it without a file (for CI).
"""

# Which module of threeport_cli.commands registers each command (a test keeps this in step).
COMMANDS: dict[str, str] = {
    "up": "local", "status": "local", "down": "local",
    "login": "contexts", "config": "contexts",
    "apply": "resources", "get": "resources", "describe": "resources", "delete": "resources",
    "diff": "resources", "events": "events",
    "deploy": "delivery", "promote": "delivery", "rollback": "delivery", "approve": "delivery",
    "plan": "delivery", "releases": "delivery", "build": "delivery", "logs": "delivery",
    "project": "identity", "token": "identity",
    "cluster": "clusters",
    "install": "install", "uninstall": "install",
    "account": "accounts",
    "secret": "secrets", "registry-credential": "secrets",
    "api-resources": "api_resources",
}
MODULE_ORDER = (
    "local", "contexts", "resources", "events", "delivery", "secrets", "identity", "clusters", "install",
    "accounts", "api_resources",
)


def version_text() -> str:
    return f"tptctl {__version__}"


def run_version(_options: argparse.Namespace) -> int:
    print(version_text())
    return ExitCode.OK


def command_modules(names: Sequence[str] = MODULE_ORDER) -> list[ModuleType]:
    return [importlib.import_module(f"threeport_cli.commands.{name}") for name in names]


def build_parser(modules: Sequence[ModuleType] | None = None) -> argparse.ArgumentParser:
    """The parser with the commands of ``modules`` (default: all of them)."""
    parser = argparse.ArgumentParser(
        prog="tptctl", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=version_text())
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("version", help="print the tptctl version").set_defaults(run=run_version)
    for group in command_modules() if modules is None else modules:
        group.register(commands)
    return parser


def requested_command(argv: Sequence[str]) -> str | None:
    """The command word: the first argument that is not a top-level option."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def suggestion(word: str) -> str:
    known = [*COMMANDS, "version"]
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.5)
    if not close:
        close = [name for name in known if name.startswith(word[:3])][:1]
    return f"; did you mean {close[0]!r}?" if close else ""


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = requested_command(args)
    if command is not None and command not in COMMANDS and command != "version":
        print(f"tptctl: unknown command {command!r}{suggestion(command)} "
              "(tptctl --help lists the commands)", file=sys.stderr)
        return ExitCode.USAGE
    if command in COMMANDS:
        parser = build_parser(command_modules([COMMANDS[command]]))
    elif command == "version" or "--version" in args:
        parser = build_parser([])
    else:
        parser = build_parser()
    options = parser.parse_args(args)
    if not getattr(options, "run", None):
        parser.print_help(sys.stderr)
        return ExitCode.USAGE
    try:
        code = int(options.run(options))
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return code
    except KeyboardInterrupt:
        return ExitCode.ERROR
    except BrokenPipeError:
        return quiet_broken_pipe()
    except Exception as error:
        from threeport_cli.errors import report  # the SDK's errors: imported only on failure

        return int(report(error))


def quiet_broken_pipe() -> int:
    """The reader of our output went away (``| head``): stop quietly, as kubectl does.

    Python would otherwise report the pipe again when it flushes stdout at exit."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (tests capture it)
        pass
    return ExitCode.OK


if __name__ == "__main__":
    raise SystemExit(main())
