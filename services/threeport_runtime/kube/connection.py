"""A connection to a Kubernetes API server: where it is and how to authenticate.

It is secret (tokens, client keys); its ``repr`` hides everything but the server, so that it
cannot end up in a log line by accident. It converts to and from the cluster-manager's
``ClusterCredentials`` message, which is how other services receive it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from threeport.clusters.v1alpha1 import cluster_credentials_pb2


@dataclass(frozen=True)
class Connection:
    server: str
    certificate_authority_data: bytes = field(default=b"", repr=False)
    token: str = field(default="", repr=False)
    client_certificate_data: bytes = field(default=b"", repr=False)
    client_key_data: bytes = field(default=b"", repr=False)
    insecure_skip_tls_verify: bool = False
    expire_time: datetime | None = None

    @classmethod
    def from_credentials(cls, credentials: cluster_credentials_pb2.ClusterCredentials) -> Connection:
        """The connection a ``ClusterCredentials`` message describes."""
        return cls(
            server=credentials.server,
            certificate_authority_data=credentials.certificate_authority_data,
            token=credentials.token,
            client_certificate_data=credentials.client_certificate_data,
            client_key_data=credentials.client_key_data,
            insecure_skip_tls_verify=credentials.insecure_skip_tls_verify,
            expire_time=(
                credentials.expire_time.ToDatetime(tzinfo=UTC) if credentials.HasField("expire_time") else None
            ),
        )

    def to_credentials(self, name: str) -> cluster_credentials_pb2.ClusterCredentials:
        """The ``ClusterCredentials`` message of cluster ``name`` for this connection."""
        credentials = cluster_credentials_pb2.ClusterCredentials(
            name=name,
            server=self.server,
            certificate_authority_data=self.certificate_authority_data,
            token=self.token,
            client_certificate_data=self.client_certificate_data,
            client_key_data=self.client_key_data,
            insecure_skip_tls_verify=self.insecure_skip_tls_verify,
        )
        if self.expire_time is not None:
            credentials.expire_time.FromDatetime(self.expire_time)
        return credentials

    def fingerprint(self) -> bytes:
        """A digest of everything that decides how to connect: equal fingerprints, same client."""
        material = [self.server, self.to_secret_json(), str(self.insecure_skip_tls_verify)]
        return hashlib.sha256("\0".join(material).encode()).digest()

    def to_secret_json(self) -> str:
        """The secret parts as JSON, for encryption at rest."""
        return json.dumps(
            {
                "certificate_authority_data": _b64(self.certificate_authority_data),
                "token": self.token,
                "client_certificate_data": _b64(self.client_certificate_data),
                "client_key_data": _b64(self.client_key_data),
            }
        )

    @classmethod
    def from_secret_json(cls, server: str, insecure: bool, secret: str) -> Connection:
        data: dict[str, Any] = json.loads(secret)
        return cls(
            server=server,
            certificate_authority_data=base64.b64decode(data.get("certificate_authority_data", "")),
            token=str(data.get("token", "")),
            client_certificate_data=base64.b64decode(data.get("client_certificate_data", "")),
            client_key_data=base64.b64decode(data.get("client_key_data", "")),
            insecure_skip_tls_verify=insecure,
        )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
