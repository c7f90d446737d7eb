"""The LDAP peer's server certificate: valid, expired, self-signed or for another host, so
that a client's certificate checks meet each case as they would against a domain controller.

Every peer has its own certificate authority; a client trusts the peer by its
:attr:`PeerCertificate.ca_pem` (what an admin's ``ca_file`` holds for a domain's own CA).
Keys are P-256: made in a millisecond, where RSA 2048 takes a tenth of a second per peer.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PEER_HOST = "localhost"
"""The name a certificate is issued for unless told (with 127.0.0.1): clients connect by it."""
OTHER_HOST = "dc01.fabrikam.example"


class CertificateKind(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    SELF_SIGNED = "self_signed"
    WRONG_HOST = "wrong_host"
    """Issued by the trusted CA, but for another domain controller's name."""


@dataclass(frozen=True)
class PeerCertificate:
    ca_pem: str
    """The PEM of the authority that issued the server's certificate (absent from any
    system store)."""
    server_pem: str
    """The server's certificate followed by its private key."""
    not_after: datetime


def make_certificate(
    kind: CertificateKind, host: str = PEER_HOST, now: datetime | None = None
) -> PeerCertificate:
    now = now or datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("msext sandbox domain CA")
    ca = (
        _builder(ca_name, ca_name, ca_key, now - timedelta(days=400), now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    host = OTHER_HOST if kind is CertificateKind.WRONG_HOST else host
    if kind is CertificateKind.EXPIRED:
        not_before, not_after = now - timedelta(days=400), now - timedelta(days=35)
    else:
        not_before, not_after = now - timedelta(days=1), now + timedelta(days=365)
    subject = _name(host)
    names: list[x509.GeneralName] = [x509.DNSName(host)]
    if kind is not CertificateKind.WRONG_HOST:
        names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    issuer, signer = (subject, key) if kind is CertificateKind.SELF_SIGNED else (ca_name, ca_key)
    server = (
        _builder(subject, issuer, key, not_before, not_after)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(signer, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return PeerCertificate(
        ca_pem=_pem(ca),
        server_pem=_pem(server) + key_pem,
        not_after=not_after.replace(microsecond=0),
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    not_before: datetime,
    not_after: datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after.replace(microsecond=0))
    )


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()
