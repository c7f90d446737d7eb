"""A certificate instead of a client secret: the signed client assertion (RFC 7523) that
Microsoft Entra ID takes from an app registration with an uploaded certificate.

The secret reference on the General tab then names a PEM file holding the certificate and
its private key; nothing else changes for the administrator.
"""

from __future__ import annotations

import base64
import json
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from engine.exchange.mailbox.base import MailboxError

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
LIFETIME_SECONDS = 600
_PEM_MARK = "-----BEGIN "


def is_certificate(secret: str) -> bool:
    """Whether the secret reference names a PEM certificate and key, not a client secret."""
    return secret.lstrip().startswith(_PEM_MARK)


def thumbprint(certificate: x509.Certificate) -> str:
    """The ``x5t`` Entra ID finds the uploaded certificate by (SHA-1, base64url)."""
    return _b64(certificate.fingerprint(hashes.SHA1()))


def client_assertion(pem: str, client_id: str, audience: str, now: float) -> str:
    """A JWT for the token endpoint ``audience``, signed with the certificate's key (RS256)."""
    data = pem.encode()
    try:
        certificate = x509.load_pem_x509_certificate(data)
        key = serialization.load_pem_private_key(data, password=None)
    except ValueError as error:
        raise MailboxError(
            f"the certificate file named by the secret reference cannot be read: {error}"
            " (it must hold the certificate and its unencrypted private key, PEM)"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise MailboxError("the certificate's private key must be an RSA key (RS256)")
    header = {"alg": "RS256", "typ": "JWT", "x5t": thumbprint(certificate)}
    claims = {
        "aud": audience,
        "iss": client_id,
        "sub": client_id,
        "jti": str(uuid.uuid4()),
        "nbf": int(now),
        "exp": int(now) + LIFETIME_SECONDS,
    }
    signing_input = f"{_b64(_json(header))}.{_b64(_json(claims))}".encode()
    signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input.decode()}.{_b64(signature)}"


def _json(value: dict[str, object]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
