"""The table of every Threeport RPC, built from the generated descriptors.

For each method it records the ``(threeport.common.v1alpha1.policy)`` option (None when the
method has none, which the gateway denies), the request message class (to read ``name`` and
``parent`` for authorization without knowing the API), whether it streams, and the proto domain
(``registry``, ``delivery``, ...) that selects the backend.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message

import threeport
from threeport.common.v1alpha1 import annotations_pb2


@dataclass(frozen=True)
class MethodInfo:
    path: str
    service: str
    domain: str
    policy: annotations_pb2.MethodPolicy | None
    request_type: type[Message]
    client_streaming: bool
    server_streaming: bool

    @property
    def internal(self) -> bool:
        return self.policy is not None and (self.policy.internal or self.policy.role == annotations_pb2.ROLE_SERVICE)

    @property
    def mutating(self) -> bool:
        return self.policy is not None and self.policy.mutating


class MethodTable(Mapping[str, MethodInfo]):
    """``/threeport.<domain>.v1alpha1.<Service>/<Method>`` -> MethodInfo."""

    def __init__(self, methods: Mapping[str, MethodInfo]):
        self._methods = dict(methods)

    @classmethod
    def load(cls) -> MethodTable:
        """Imports every generated ``*_pb2`` module and reads the services they declare."""
        pool = descriptor_pool.Default()
        methods: dict[str, MethodInfo] = {}
        for module in _generated_modules():
            for service in module.DESCRIPTOR.services_by_name.values():
                for method in service.methods:
                    info = _info(pool, method)
                    methods[info.path] = info
        return cls(methods)

    def __getitem__(self, path: str) -> MethodInfo:
        return self._methods[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._methods)

    def __len__(self) -> int:
        return len(self._methods)


def _info(pool: descriptor_pool.DescriptorPool, method: MethodDescriptor) -> MethodInfo:
    service = method.containing_service.full_name
    options = method.GetOptions()
    policy = options.Extensions[annotations_pb2.policy] if options.HasExtension(annotations_pb2.policy) else None
    return MethodInfo(
        path=f"/{service}/{method.name}",
        service=service,
        domain=service.split(".")[1],
        policy=policy,
        request_type=message_factory.GetMessageClass(pool.FindMessageTypeByName(method.input_type.full_name)),
        client_streaming=method.client_streaming,
        server_streaming=method.server_streaming,
    )


def _generated_modules() -> Iterator[Any]:
    for found in pkgutil.walk_packages(threeport.__path__, "threeport."):
        if found.name.endswith("_pb2") and not found.name.startswith("threeport.sdk"):
            yield importlib.import_module(found.name)
