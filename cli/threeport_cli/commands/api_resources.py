"""``tptctl api-resources``: every resource kind the API serves and how to name it."""

from __future__ import annotations

import argparse

from threeport.sdk import resources
from threeport_cli.exit_codes import ExitCode


def run(_options: argparse.Namespace) -> int:
    rows = [("NAME", "SHORTNAMES", "KIND", "PATTERN", "INTERNAL")]
    for resource_type in sorted(resources.INDEX.types, key=lambda t: t.plural):
        method = resource_type.get or resource_type.list
        internal = "yes" if method is not None and method.internal else ""
        rows.append((resource_type.plural, ",".join(resource_type.short_names), resource_type.kind,
                     resource_type.patterns[0], internal))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("   ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    return ExitCode.OK


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("api-resources", help="list the resource kinds and their short names")
    parser.set_defaults(run=run)
