"""The event bus: transactional outbox, relay to Redis Streams, consumer groups.

Modules: ``streams`` (names), ``outbox`` (write events in the caller's transaction),
``relay`` (publish outbox rows to streams), ``consumer`` (consumer groups with reclaim and
dead-lettering).
"""
