"""The entry point every service's ``__main__`` calls: ``serve`` or ``migrate``.

::

    # threeport_registry/__main__.py
    from threeport_runtime.cli import main
    from threeport_registry.service import DEFINITION
    raise SystemExit(main(DEFINITION))
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from threeport_runtime.config import ConfigError, Settings
from threeport_runtime.db.migrations import upgrade
from threeport_runtime.logs import configure_logging
from threeport_runtime.runtime import ServiceDefinition, start_service
from threeport_runtime.telemetry import configure_telemetry

log = logging.getLogger(__name__)


def main(definition: ServiceDefinition, argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m threeport_{definition.name}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the gRPC server, the outbox relay and the controllers")
    migrate_parser = commands.add_parser("migrate", help="apply database migrations")
    migrate_parser.add_argument("--revision", default="head")
    arguments = parser.parse_args(argv)
    try:
        settings = Settings.from_env(definition.name)
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    configure_logging(definition.name, settings.log_level)
    if arguments.command == "migrate":
        upgrade(definition.migrations_dir, settings.database_url, arguments.revision)
        log.info("migrations applied", extra={"revision": arguments.revision})
        return 0
    configure_telemetry(definition.name, settings.otlp_endpoint)
    asyncio.run(serve(definition, settings))
    return 0


async def serve(definition: ServiceDefinition, settings: Settings) -> None:
    """Serves until SIGTERM or SIGINT, then stops gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    running = await start_service(definition, settings)
    await stop.wait()
    log.info("stopping: health NOT_SERVING, then draining in-flight calls")
    await running.stop(settings.shutdown_grace_seconds, drain_delay=1.0)
