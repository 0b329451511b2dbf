"""The entry point every service's ``__main__`` calls: ``serve``, ``migrate`` or ``reencrypt``.

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

from threeport_runtime import eventloop
from threeport_runtime.config import ConfigError, Settings
from threeport_runtime.logs import configure_logging
from threeport_runtime.reencrypt import reencrypt
from threeport_runtime.runtime import ServiceDefinition, ServiceRuntime, start_service
from threeport_runtime.telemetry import configure_telemetry

log = logging.getLogger(__name__)


def main(definition: ServiceDefinition, argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m threeport_{definition.name}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the gRPC server, the outbox relay and the controllers")
    migrate_parser = commands.add_parser("migrate", help="apply database migrations")
    migrate_parser.add_argument("--revision", default="head")
    reencrypt_parser = commands.add_parser(
        "reencrypt",
        help="re-encrypt every stored secret with the current (first) key of THREEPORT_ENCRYPTION_KEYS "
        "and say which keys are no longer used; safe to run while the service serves, and again",
    )
    reencrypt_parser.add_argument("--batch-size", type=int, default=100, help="values per transaction")
    arguments = parser.parse_args(argv)
    try:
        settings = Settings.from_env(definition.name)
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    configure_logging(definition.name, settings.log_level)
    if arguments.command == "migrate":
        # Imported here: Alembic brings Mako and Pygments (~7 MB, 144 modules) that a serving
        # process would carry for nothing (`tptctl up` migrates in a process of its own).
        from threeport_runtime.db.migrations import upgrade

        upgrade(definition.migrations_dir, settings.database_url, arguments.revision)
        log.info("migrations applied", extra={"revision": arguments.revision})
        return 0
    if arguments.command == "reencrypt":
        return eventloop.run(run_reencrypt(definition, settings, arguments.batch_size))
    configure_telemetry(definition.name, settings.otlp_endpoint)
    try:
        eventloop.run(serve(definition, settings))
    except ConfigError as error:  # a service's own settings, read while it is set up
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    return 0


async def run_reencrypt(definition: ServiceDefinition, settings: Settings, batch_size: int) -> int:
    """Prints progress and a per-key report; exit 0 when every value uses the current key."""
    runtime = ServiceRuntime(settings, definition.schema)
    try:
        if runtime.cipher is None:
            print("THREEPORT_ENCRYPTION_KEYS is not set: nothing is encrypted with a key to rotate",
                  file=sys.stderr)
            return 2
        stores = definition.encrypted_stores(runtime) if definition.encrypted_stores else []
        if not stores:
            print(f"{definition.name} stores nothing encrypted")
            return 0
        report = await reencrypt(stores, runtime.cipher, [k.key_id for k in settings.encryption_keys],
                                 batch_size=batch_size, progress=print)
    finally:
        await runtime.close()
    print(f"re-encrypted {report.reencrypted} value(s); the current key is {runtime.cipher.current_key_id!r}")
    for key_id, count in sorted(report.usage.items()):
        print(f"key {key_id!r}: {count} value(s)")
    for key_id in report.unused_keys:
        print(f"key {key_id!r} is no longer used by {definition.name}: it can be removed from "
              "THREEPORT_ENCRYPTION_KEYS (once every service that had it reports the same)")
    stale = {k: c for k, c in report.usage.items() if k != runtime.cipher.current_key_id and c}
    if stale:
        print(f"still under older keys: {stale}; run reencrypt again", file=sys.stderr)
        return 1
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
