"""The level-triggered reconcile engine (controller-runtime style).

Modules: ``result`` (what a reconcile returns or raises), ``queue`` (deduplicating work queue
with priorities and backoff), ``lease`` (per-key Redis leases with fencing tokens), ``membership`` (live replicas of a
controller and which keys each owns), ``controller`` (workers, watches, resync),
``events`` (Kubernetes-style event recorder and ListEvents).
"""
