"""What an LDAPS server's certificate is worth to us: valid until when, or why not
(expired, self-signed, issued by an untrusted CA, issued for another host).

The console's SSL status column shows it, *Test connection* checks it, and a run that
fails its TLS handshake explains itself with it instead of OpenSSL's words.
"""

from __future__ import annotations

import socket
import ssl

from cryptography import x509
from cryptography.x509.oid import NameOID

from engine.adsync.model import CertificateStatus

_EXPIRED = 10
_NOT_YET_VALID = 9
_SELF_SIGNED = (18, 19)
_UNTRUSTED_ISSUER = (2, 20, 21)
_WRONG_HOST = 62


def tls_context(verify: bool, ca_file: str | None) -> ssl.SSLContext:
    """The client's context: the system's trusted CAs, or only ``ca_file``'s."""
    context = ssl.create_default_context(cafile=ca_file)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def certificate_status(
    address: tuple[str, int], host: str, ca_file: str | None, timeout: float
) -> CertificateStatus:
    """Handshake with ``address`` as a verifying client of ``host`` would; raises
    :class:`OSError` when there is no TLS server to ask."""
    try:
        der = _handshake(address, host, tls_context(True, ca_file), timeout)
    except ssl.SSLCertVerificationError as error:
        der = _handshake(address, host, tls_context(False, None), timeout)
        certificate = x509.load_der_x509_certificate(der)
        return CertificateStatus(
            valid=False,
            not_after=certificate.not_valid_after_utc,
            detail=_why_not(error, certificate, host),
        )
    not_after = x509.load_der_x509_certificate(der).not_valid_after_utc
    return CertificateStatus(True, not_after, f"valid until {not_after:%Y-%m-%d}")


def _handshake(
    address: tuple[str, int], host: str, context: ssl.SSLContext, timeout: float
) -> bytes:
    with (
        socket.create_connection(address, timeout=timeout) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    if der is None:
        raise ssl.SSLError("the server sent no certificate")
    return der


def _why_not(error: ssl.SSLCertVerificationError, certificate: x509.Certificate, host: str) -> str:
    code = error.verify_code
    if code == _EXPIRED:
        return f"expired on {certificate.not_valid_after_utc:%Y-%m-%d}"
    if code == _NOT_YET_VALID:
        return f"not valid before {certificate.not_valid_before_utc:%Y-%m-%d}"
    if code in _SELF_SIGNED:
        return "self-signed: not issued by a trusted CA (set ca_file to trust it)"
    if code in _UNTRUSTED_ISSUER:
        issuer = _common_name(certificate.issuer) or certificate.issuer.rfc4514_string()
        return f"issued by {issuer}, which is not trusted (set ca_file to the domain's CA)"
    if code == _WRONG_HOST:
        return f"wrong host: issued for {', '.join(_names(certificate))}, not {host}"
    return f"not trusted: {error.verify_message}"


def _names(certificate: x509.Certificate) -> list[str]:
    try:
        alternative = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return [_common_name(certificate.subject)]
    return [str(name.value) for name in alternative.value]


def _common_name(name: x509.Name) -> str:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else ""
