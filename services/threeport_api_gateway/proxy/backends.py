"""One channel per backend service, opened lazily, and what every call to a backend carries.

The channels are the runtime's ``balanced_channel``s without interceptors: the proxy and the
project contents add the runtime's ``ServiceCalls`` themselves (the service credential
``authorization: Service ...``, the gateway's name, the trace context, a CLIENT span and the
default deadline), with the caller's identity on top, in one layer per call.
"""

from __future__ import annotations

from collections.abc import Mapping

import grpc

from threeport_api_gateway.config import BACKENDS, SERVICE_NAME, Backend
from threeport_runtime.errors import Unavailable
from threeport_runtime.rpc.client import ServiceCalls, balanced_channel

# Unary calls without a client deadline get the runtime's default; streams (Watch) are long-lived
# by nature, so they get this instead of being cut after a few seconds.
STREAM_DEFAULT_TIMEOUT = 24 * 3600.0


class BackendUnavailable(Unavailable):
    reason = "BACKEND_UNAVAILABLE"

    def __init__(self, backend: Backend, problem: str):
        super().__init__(
            f"the {backend.service} service {problem}; try again later or ask an operator to check it",
            metadata={"service": backend.service},
        )


class Backends:
    def __init__(self, addresses: Mapping[str, str], credential: str):
        self._addresses = dict(addresses)
        self.calls = ServiceCalls(SERVICE_NAME, credential)
        self._by_domain = {backend.domain: backend for backend in BACKENDS}
        self._channels: dict[str, grpc.aio.Channel] = {}

    def backend(self, domain: str) -> Backend:
        return self._by_domain.get(domain) or Backend(domain, domain, "")

    def address(self, domain: str) -> str:
        return self._addresses.get(domain, "")

    def channel(self, domain: str) -> grpc.aio.Channel:
        """The channel to the service owning ``domain``; BackendUnavailable when not configured."""
        channel = self._channels.get(domain)
        if channel is not None:
            return channel
        address = self._addresses.get(domain)
        backend = self.backend(domain)
        if not address:
            hint = f" (set {backend.env_var})" if backend.env_var else ""
            raise BackendUnavailable(backend, f"is not configured on this gateway{hint}")
        channel = self._channels[domain] = balanced_channel(address)
        return channel

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close(None)
        self._channels.clear()
