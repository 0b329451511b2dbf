"""Routing of every public RPC that the gateway does not serve itself to the service owning it."""
