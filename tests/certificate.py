"""Self-signed certificates for tests: an app registration's credential, an https server's."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def _signed(name: str, days: int, host: str | None = None) -> tuple[str, str]:
    """(certificate PEM, private key PEM), self-signed; with ``host``, an https server's
    certificate for that IP address that is also its own CA."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
    )
    if host is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ip_address(host))]), critical=False
        ).add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    certificate = builder.sign(key, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return certificate.public_bytes(serialization.Encoding.PEM).decode(), key_pem


def self_signed(name: str = "msext sync") -> tuple[str, str]:
    """(the PEM of the certificate and its private key, the PEM of the certificate alone)."""
    certificate_pem, key_pem = _signed(name, days=365)
    return certificate_pem + key_pem, certificate_pem


def receiver_files(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """(certificate, key) PEM files of an https server at ``host``; the certificate is its
    own CA, so it is also the CA file its clients trust."""
    certificate_pem, key_pem = _signed(host, days=30, host=host)
    certificate_file, key_file = directory / "receiver.pem", directory / "receiver.key"
    certificate_file.write_text(certificate_pem)
    key_file.write_text(key_pem)
    return certificate_file, key_file


def free_port() -> int:
    """A port nothing listens on now (for a server whose URL must be known before it starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
