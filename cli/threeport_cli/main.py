"""Entry point of ``tptctl``: builds the command tree and turns outcomes into exit codes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import metadata

from threeport_cli.commands import local
from threeport_cli.exit_codes import ExitCode

DESCRIPTION = """\
tptctl drives a Threeport control plane: give it one definition of an application and it
provides the cluster, the supporting services and the managed services the app depends on,
then runs it.

Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 conflict, 5 invalid input,
6 unauthenticated or permission denied, 7 timed out waiting.
"""


def version_text() -> str:
    try:
        return f"tptctl {metadata.version('threeport')}"
    except metadata.PackageNotFoundError:
        return "tptctl (not installed as a distribution)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tptctl", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=version_text())
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    version = commands.add_parser("version", help="print the tptctl version")
    version.set_defaults(run=lambda _options: print(version_text()) or ExitCode.OK)
    local.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    options = parser.parse_args(argv)
    if not getattr(options, "run", None):
        parser.print_help(sys.stderr)
        return ExitCode.USAGE
    return int(options.run(options))


if __name__ == "__main__":
    raise SystemExit(main())
