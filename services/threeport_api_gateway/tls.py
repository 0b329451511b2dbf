"""Server TLS for the gateway's public endpoint; with a client CA, callers need a certificate
it signed (mutual TLS)."""

from __future__ import annotations

import grpc

from threeport_api_gateway.config import TlsSettings


def server_credentials(tls: TlsSettings) -> grpc.ServerCredentials:
    client_ca = tls.client_ca_file.read_bytes() if tls.client_ca_file else None
    return grpc.ssl_server_credentials(
        [(tls.key_file.read_bytes(), tls.cert_file.read_bytes())],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )
