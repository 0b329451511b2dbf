"""The public endpoint over mutual TLS: clients with a certificate from the configured CA only."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from threeport.sdk import NO_RETRY, AsyncClient, UnavailableError
from threeport_api_gateway.config import TlsSettings
from threeport_api_gateway.service import RunningGateway, start_gateway

from .conftest import gateway_settings
from .registry_stand_in import RegistryStandIn

Pem = tuple[bytes, bytes]


def _issue(
    subject: str, issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer[0].subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    certificate = builder.sign(issuer[1] if issuer else key, hashes.SHA256())
    return certificate, key


def _pem(pair: tuple[x509.Certificate, ec.EllipticCurvePrivateKey]) -> Pem:
    certificate, key = pair
    return (
        certificate.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


@pytest.fixture
async def mtls_gateway(
    database_url: str, stream_prefix: str, registry: RegistryStandIn, tmp_path: Path
) -> AsyncIterator[tuple[RunningGateway, bytes, Pem]]:
    ca = _issue("threeport test CA", None)
    server_cert, server_key = _pem(_issue("localhost", ca))
    ca_pem = _pem(ca)[0]
    for file_name, content in (("server.pem", server_cert), ("server.key", server_key), ("ca.pem", ca_pem)):
        (tmp_path / file_name).write_bytes(content)
    tls = TlsSettings(tmp_path / "server.pem", tmp_path / "server.key", tmp_path / "ca.pem")
    gateway = await start_gateway(gateway_settings(database_url, stream_prefix, registry, tls=tls))
    try:
        yield gateway, ca_pem, _pem(_issue("ci-runner", ca))
    finally:
        await gateway.stop(grace=0)


async def test_clients_with_a_certificate_from_the_ca_get_through(
    mtls_gateway: tuple[RunningGateway, bytes, Pem],
) -> None:
    gateway, ca_pem, (client_cert, client_key) = mtls_gateway
    target = f"localhost:{gateway.port}"
    async with AsyncClient(
        target,
        token=gateway.bootstrap_token,
        tls=ca_pem,
        client_cert=client_cert,
        client_key=client_key,
        retry=NO_RETRY,
    ) as client:
        who = await client.principal.get_current_principal()
    assert who.principal.name == "principals/admin"
    async with AsyncClient(target, token=gateway.bootstrap_token, tls=ca_pem, retry=NO_RETRY) as no_certificate:
        with pytest.raises(UnavailableError):
            await no_certificate.principal.get_current_principal(timeout=5)
