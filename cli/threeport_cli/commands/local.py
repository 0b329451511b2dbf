"""``tptctl up``, ``status`` and ``down``: the local control plane in a state directory."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from threeport_cli.errors import report
from threeport_cli.exit_codes import ExitCode
from threeport_cli.local import datastores
from threeport_cli.local.controlplane import LocalControlPlane
from threeport_cli.local.datastores import DatastoreError
from threeport_cli.local.statedir import default_state_dir


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def add_state_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir", type=Path, default=Path(os.environ.get("THREEPORT_STATE_DIR") or default_state_dir()),
        help="where data, logs and process records live (default: $THREEPORT_STATE_DIR, else %(default)s)",
    )


def port_number(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number: use 1-65535")
    return int(text)


def run_up(options: argparse.Namespace) -> int:
    plane = LocalControlPlane(options.state_dir, progress)
    try:
        record = plane.up(
            database_url=options.database_url, redis_url=options.redis_url, with_sim_cluster=options.with_sim_cluster,
            gateway_port=options.port,
        )
    except DatastoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return ExitCode.ERROR
    except Exception as error:  # API errors while registering the sim cluster
        return int(report(error, "tptctl up"))
    for process in record.processes:
        print(f"{process.name}\t{datastores.without_password(process.url)}")
    print(f"state: {plane.state.path}  (logs in {plane.state.path / 'logs'}; stop with tptctl down)")
    return ExitCode.OK


def run_status(options: argparse.Namespace) -> int:
    report = LocalControlPlane(options.state_dir, progress).status()
    if not report:
        print(f"nothing is running from {options.state_dir} (start it with tptctl up)")
        return ExitCode.ERROR
    width = max(len(h.name) for h in report)
    for health in report:
        print(f"{health.name:<{width}}  {'healthy' if health.healthy else 'DOWN':<8} {health.detail}")
    return ExitCode.OK if all(h.healthy for h in report) else ExitCode.ERROR


def run_down(options: argparse.Namespace) -> int:
    stopped = LocalControlPlane(options.state_dir, progress).down()
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return ExitCode.OK


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    up = commands.add_parser(
        "up", help="start the local control plane",
        description="Start the local control plane: an embedded PostgreSQL and Redis in the state "
        "directory (unless URLs are given) and every installed Threeport service. Idempotent: what "
        "already runs is kept. Works as root and as a normal user.",
    )
    add_state_dir(up)
    up.add_argument(
        "--port", type=port_number,
        help="the api-gateway's port on 127.0.0.1, kept for later `up`s (default: the one chosen at the "
        "first up, a free one)",
    )
    up.add_argument("--database-url", help="use this PostgreSQL instead of the embedded one")
    up.add_argument("--redis-url", help="use this Redis instead of the embedded one")
    up.add_argument(
        "--with-sim-cluster", action="store_true",
        help="also run the Kubernetes API emulator and register a `local` sim cluster to deploy to",
    )
    up.set_defaults(run=run_up)

    status = commands.add_parser("status", help="show the health of the local control plane")
    add_state_dir(status)
    status.set_defaults(run=run_status)

    down = commands.add_parser("down", help="stop the local control plane (data is kept)")
    add_state_dir(down)
    down.set_defaults(run=run_down)
