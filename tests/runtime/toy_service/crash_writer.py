"""A process that commits a change and then dies before any relay publishes it.

Run as ``python -m tests.runtime.toy_service.crash_writer DATABASE_URL STREAM_PREFIX``; it
prints ``committed <name>`` once the transaction (with its outbox row) is durable, then waits
to be killed.
"""

from __future__ import annotations

import asyncio
import sys

from threeport.registry.v1alpha1 import application_pb2
from threeport_runtime.bus.outbox import Outbox
from threeport_runtime.db.engine import Database
from threeport_runtime.db.page_tokens import PageTokenCodec
from threeport_runtime.db.repository import ResourceRepository

from .tables import SCHEMA, ApplicationRow


def standalone_repository(
    db: Database, stream_prefix: str, finalizers_on_create: tuple[str, ...] = ()
) -> ResourceRepository[application_pb2.Application, ApplicationRow]:
    """The toy's application repository on its own, without the service around it."""
    return ResourceRepository(
        db,
        Outbox(SCHEMA, service="toy", stream_prefix=stream_prefix),
        row_type=ApplicationRow,
        message_type=application_pb2.Application,
        page_tokens=PageTokenCodec(b"0123456789abcdef"),
        finalizers_on_create=finalizers_on_create,
    )


async def write_and_wait(database_url: str, stream_prefix: str) -> None:
    repository = standalone_repository(Database(database_url), stream_prefix)
    app = application_pb2.Application()
    app.spec.components["web"].image = "nginx:1"
    created = await repository.create(app, name="projects/acme/applications/crashy")
    print(f"committed {created.name}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(write_and_wait(sys.argv[1], sys.argv[2]))
