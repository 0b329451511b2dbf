"""A connection to a Kubernetes API server: where it is and how to authenticate.

It is secret (tokens, client keys); its ``repr`` hides everything but the server, so that it
cannot end up in a log line by accident.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Connection:
    server: str
    certificate_authority_data: bytes = field(default=b"", repr=False)
    token: str = field(default="", repr=False)
    client_certificate_data: bytes = field(default=b"", repr=False)
    client_key_data: bytes = field(default=b"", repr=False)
    insecure_skip_tls_verify: bool = False
    expire_time: datetime | None = None

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
