"""The Threeport API gateway: the one public endpoint of the control plane.

It authenticates every call by API token, authorizes it against the ``policy`` option of the
called method, rate-limits and audits it, serves the gateway's own resources (projects,
principals, tokens, role bindings, audit log) and proxies every other public RPC, as raw bytes,
to the service that owns it. Sub-packages: ``domain`` (pure rules), ``store`` (tables and
queries), ``api`` (servicers), ``access`` (authentication, authorization, audit, rate limits),
``proxy`` (routing to backends), ``migrations`` (Alembic history of the ``gateway`` schema).
"""
