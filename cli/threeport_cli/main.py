"""Entry point of ``tptctl``: builds the command tree and turns outcomes into exit codes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import metadata

from threeport_cli.commands import api_resources, clusters, contexts, delivery, identity, install, local, resources
from threeport_cli.errors import report
from threeport_cli.exit_codes import ExitCode

DESCRIPTION = """\
tptctl drives a Threeport control plane: give it one definition of an application and it
provides the cluster, the supporting services and the managed services the app depends on,
then runs it.

Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 conflict, 5 invalid input,
6 unauthenticated or permission denied, 7 timed out waiting.
Configuration: $THREEPORT_CONFIG or ~/.config/threeport/config.yaml; --context picks a context.
"""


def version_text() -> str:
    try:
        return f"tptctl {metadata.version('threeport')}"
    except metadata.PackageNotFoundError:
        return "tptctl (not installed as a distribution)"


def run_version(_options: argparse.Namespace) -> int:
    print(version_text())
    return ExitCode.OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tptctl", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=version_text())
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("version", help="print the tptctl version").set_defaults(run=run_version)
    for group in (local, contexts, resources, delivery, identity, clusters, api_resources, install):
        group.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    options = parser.parse_args(argv)
    if not getattr(options, "run", None):
        parser.print_help(sys.stderr)
        return ExitCode.USAGE
    try:
        return int(options.run(options))
    except KeyboardInterrupt:
        return ExitCode.ERROR
    except Exception as error:
        return int(report(error))


if __name__ == "__main__":
    raise SystemExit(main())
