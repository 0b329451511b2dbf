"""Talking to a cluster's API server with the official ``kubernetes`` asyncio client, exactly as
to any conformant cluster: client construction, health probes and server-side apply."""
