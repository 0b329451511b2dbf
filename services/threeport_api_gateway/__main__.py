"""``python -m threeport_api_gateway serve|migrate``.

``serve`` runs the gateway until SIGTERM/SIGINT. On the very first start it creates the
administrator and prints its token once, or writes it (mode 0600) to ``--bootstrap-token-file``
/ ``THREEPORT_GATEWAY_BOOTSTRAP_TOKEN_FILE``. ``migrate`` applies the ``gateway`` schema's
Alembic migrations. The server and the migration tool are imported only once the settings are
known to be good, so a configuration error is reported at once.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from threeport_api_gateway.config import SERVICE_NAME, GatewaySettings
from threeport_api_gateway.migrations import MIGRATIONS_DIR
from threeport_runtime import eventloop
from threeport_runtime.config import ConfigError
from threeport_runtime.logs import configure_logging

log = logging.getLogger("threeport_api_gateway")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m threeport_api_gateway")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run the API gateway")
    serve_parser.add_argument(
        "--bootstrap-token-file",
        type=Path,
        help="on first start, write the administrator's token here (mode 0600) instead of printing it",
    )
    migrate_parser = commands.add_parser("migrate", help="apply the gateway schema's migrations")
    migrate_parser.add_argument("--revision", default="head")
    arguments = parser.parse_args(argv)
    try:
        settings = GatewaySettings.from_env()
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    configure_logging(SERVICE_NAME, settings.runtime.log_level)
    if arguments.command == "migrate":
        from threeport_runtime.db.migrations import upgrade

        upgrade(MIGRATIONS_DIR, settings.runtime.database_url, arguments.revision)
        log.info("migrations applied", extra={"revision": arguments.revision})
        return 0
    if arguments.bootstrap_token_file is not None:
        settings = dataclasses.replace(settings, bootstrap_token_file=arguments.bootstrap_token_file)
    from threeport_runtime.telemetry import configure_telemetry

    configure_telemetry(SERVICE_NAME, settings.runtime.otlp_endpoint)
    eventloop.run(serve(settings))
    return 0


async def serve(settings: GatewaySettings) -> None:
    from threeport_api_gateway.service import start_gateway

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    running = await start_gateway(settings)
    if running.bootstrap_token is not None:
        hand_out_bootstrap_token(running.bootstrap_token, settings.bootstrap_token_file)
    print(f"api gateway listening on port {running.port}", file=sys.stderr, flush=True)
    if running.http is not None:
        print(f"api gateway serving HTTP/JSON on port {running.http_port}", file=sys.stderr, flush=True)
    await stop.wait()
    log.info("stopping: health NOT_SERVING, then draining in-flight calls")
    await running.stop(settings.runtime.shutdown_grace_seconds, drain_delay=settings.drain_seconds)


def hand_out_bootstrap_token(token: str, path: Path | None) -> None:
    """Shows the administrator token once; it is never logged."""
    from threeport_api_gateway.bootstrap import write_token_file

    if path is not None:
        write_token_file(path, token)
        log.info("bootstrap administrator token written", extra={"path": str(path)})
        return
    print(f"bootstrap administrator token (shown once, store it now): {token}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
