"""Command line: `serve` runs an emulator; `clusters ...` and `fault ...` drive a running one
through its control API."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from threeport_kubesim.control import ControlClient, ControlError
from threeport_kubesim.emulator import ClusterDefaults, Emulator, EmulatorError

DEFAULT_CONTROL = "http://127.0.0.1:8700"


async def serve(args: argparse.Namespace) -> int:
    defaults = ClusterDefaults(
        tls=args.tls,
        nodes=args.nodes,
        speed=args.speed,
        max_events=args.max_events,
        history_size=args.history_size,
        bookmark_interval=args.bookmark_interval,
    )
    emulator = Emulator(
        Path(args.kubeconfig_dir),
        defaults,
        Path(args.snapshot) if args.snapshot else None,
        Path(args.state_dir) if args.state_dir else None,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await emulator.restore()
    for name in args.cluster or []:
        if name not in emulator.clusters:
            await emulator.create_cluster(name)
    port = await emulator.start_control(args.port)
    ready = {
        "control_url": f"http://127.0.0.1:{port}",
        "clusters": [c.info() for c in emulator.clusters.values()],
    }
    line = json.dumps(ready)
    if args.ready_file:
        await asyncio.to_thread(Path(args.ready_file).write_text, line)
    print(line, flush=True)
    await stop.wait()
    await emulator.shutdown()
    return 0


def _client(args: argparse.Namespace) -> ControlClient:
    return ControlClient(args.control)


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, default=lambda o: o.__dict__ if hasattr(o, "__dict__") else str(o)))


def _as_dict(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__slots__}


def clusters_command(args: argparse.Namespace) -> int:
    client = _client(args)
    if args.action == "create":
        _print(_as_dict(client.create_cluster(args.name, tls=args.tls, nodes=args.nodes, speed=args.speed)))
    elif args.action == "delete":
        client.delete_cluster(args.name)
        _print({"deleted": args.name})
    else:
        _print([_as_dict(c) for c in client.list_clusters()])
    return 0


def fault_command(args: argparse.Namespace) -> int:
    client = _client(args)
    if args.fault == "image-pull-fail":
        result = client.image_pull_fail(args.cluster, args.image, enabled=not args.off)
    elif args.fault == "unreachable":
        result = client.set_unreachable(args.cluster, enabled=not args.off)
    elif args.fault == "latency":
        result = client.set_latency(args.cluster, args.ms)
    elif args.fault == "fail-requests":
        result = client.fail_requests(
            args.cluster, args.status, args.count, args.verb, args.resource, args.namespace, args.message
        )
    elif args.fault == "clear":
        result = client.clear_faults(args.cluster)
    else:
        result = client.faults(args.cluster)
    _print(_as_dict(result))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m threeport_kubesim", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve_parser = commands.add_parser("serve", help="run the emulator")
    serve_parser.add_argument("--port", type=int, default=8700, help="control API port (0: pick a free one)")
    serve_parser.add_argument("--cluster", action="append", help="create this cluster at start (repeatable)")
    serve_parser.add_argument("--kubeconfig-dir", default=os.environ.get("KUBESIM_KUBECONFIG_DIR", "./kubesim"))
    serve_parser.add_argument(
        "--tls",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="new clusters serve HTTPS with their own CA (default); --no-tls serves plain HTTP, which only "
        "programmatic clients can use (kubectl sends no token over http, so no kubeconfig is written)",
    )
    serve_parser.add_argument("--speed", type=float, default=1.0, help="simulated time runs this many times faster")
    serve_parser.add_argument("--nodes", type=int, default=1, help="nodes per new cluster")
    persistence = serve_parser.add_mutually_exclusive_group()
    persistence.add_argument("--snapshot", help="load state from this file at start, save it on shutdown")
    persistence.add_argument(
        "--state-dir",
        help="keep every cluster in this directory, written through on each change: a restart, even after "
        "kill -9, serves the same clusters and objects and watches resume",
    )
    serve_parser.add_argument("--ready-file", help="also write the startup JSON line to this file")
    serve_parser.add_argument("--max-events", type=int, default=1000, help="Events kept per cluster")
    serve_parser.add_argument("--history-size", type=int, default=2000, help="watch resume window per cluster")
    serve_parser.add_argument("--bookmark-interval", type=float, default=60.0, help="seconds between BOOKMARKs")
    serve_parser.add_argument("--log-level", default="WARNING")

    control = os.environ.get("KUBESIM_CONTROL", DEFAULT_CONTROL)
    clusters_parser = commands.add_parser("clusters", help="manage clusters of a running emulator")
    clusters_parser.add_argument("--control", default=control, help="control API URL ($KUBESIM_CONTROL)")
    cluster_actions = clusters_parser.add_subparsers(dest="action", required=True)
    create = cluster_actions.add_parser("create")
    create.add_argument("name")
    create.add_argument(
        "--tls", action=argparse.BooleanOptionalAction, default=None, help="HTTPS (the serve default) or plain HTTP"
    )
    create.add_argument("--nodes", type=int)
    create.add_argument("--speed", type=float)
    cluster_actions.add_parser("delete").add_argument("name")
    cluster_actions.add_parser("list")

    fault_parser = commands.add_parser("fault", help="inject faults into a running emulator")
    fault_parser.add_argument("--control", default=control, help="control API URL ($KUBESIM_CONTROL)")
    faults = fault_parser.add_subparsers(dest="fault", required=True)
    image = faults.add_parser("image-pull-fail", help="pods using IMAGE fail to pull it")
    image.add_argument("--image", required=True, help="exact image or glob, e.g. 'registry.io/app:*'")
    unreachable = faults.add_parser("unreachable", help="close the cluster's listening socket")
    latency = faults.add_parser("latency", help="delay every request of the cluster")
    latency.add_argument("--ms", type=int, required=True, help="added milliseconds (0 removes)")
    fail = faults.add_parser("fail-requests", help="answer the next N matching requests with STATUS")
    fail.add_argument("--status", type=int, required=True)
    fail.add_argument("--count", type=int, default=1)
    fail.add_argument("--verb", default="", help="get, list, watch, create, update, patch, delete, ...")
    fail.add_argument("--resource", default="", help="plural resource name, e.g. deployments")
    fail.add_argument("--namespace", default="")
    fail.add_argument("--message", default="injected failure")
    clear = faults.add_parser("clear", help="remove every fault of the cluster")
    show = faults.add_parser("show", help="print the cluster's faults")
    for sub in (image, unreachable, latency, fail, clear, show):
        sub.add_argument("--cluster", required=True)
    for sub in (image, unreachable):
        sub.add_argument("--off", action="store_true", help="remove this fault instead")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        logging.basicConfig(
            level=args.log_level.upper(),
            stream=sys.stderr,
            format="%(asctime)s %(levelname)s %(name)s %(message)s",
        )
        try:
            return asyncio.run(serve(args))
        except EmulatorError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 2
    try:
        if args.command == "clusters":
            return clusters_command(args)
        return fault_command(args)
    except ControlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: cannot reach the emulator at {args.control}: {exc}", file=sys.stderr)
        return 1
