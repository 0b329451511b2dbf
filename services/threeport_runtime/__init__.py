"""The shared runtime of every Threeport control-plane service.

Sub-packages and modules, each with one job:

- ``config``: settings from ``THREEPORT_*`` environment variables.
- ``logs`` and ``telemetry``: JSON logs with trace ids; OpenTelemetry providers.
- ``errors``: domain exceptions that map to gRPC status codes with rich details.
- ``crypto``: AES-GCM field encryption with key ids and rotation.
- ``db``: async SQLAlchemy, one schema per service, the generic resource repository.
- ``bus``: transactional outbox, relay to Redis Streams, consumer groups.
- ``reconcile``: the level-triggered controller engine.
- ``rpc``: gRPC server bootstrap, interceptors, identity, clients and Watch.
- ``cli``: the ``serve|migrate`` entry point every service's ``__main__`` calls.
- ``testing``: helpers for tests against real PostgreSQL and Redis.
"""
