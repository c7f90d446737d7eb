"""Entra ID's client-credentials token endpoint, and the bearer check of Graph requests.

The app proves itself with its client secret or with a client assertion (RFC 7523) signed
by the key of the certificate uploaded to the app registration. Refusals carry Entra ID's
AADSTS codes, which the client maps to what the administrator should correct.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from engine.sandbox.graph.errors import unauthenticated
from engine.sandbox.graph.state import TOKEN_LIFETIME, PeerState

_TRACE = " Trace ID: 00000000-0000-0000-0000-000000000000"


def token(state: PeerState, tenant: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """The token endpoint's (status, JSON answer) for a client-credentials form."""
    app = state.app
    if tenant.lower() != app.tenant_id.lower():
        return _refusal(
            400,
            "invalid_request",
            f"AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the correct"
            " tenant ID and are signing into the correct cloud.",
        )
    if form.get("grant_type") != "client_credentials":
        return _refusal(
            400,
            "invalid_request",
            "AADSTS70003: The app requested an unsupported grant type"
            f" '{form.get('grant_type', '')}'; only client_credentials is supported here.",
        )
    client_id = form.get("client_id", "")
    if client_id.lower() != app.client_id.lower():
        return _refusal(
            400,
            "unauthorized_client",
            f"AADSTS700016: Application with identifier '{client_id}' was not found in the"
            f" directory '{tenant}'. This can happen if the application has not been installed"
            " by the administrator of the tenant.",
        )
    if "client_assertion" in form:
        refused = _assertion_refusal(state, tenant, form)
        if refused is not None:
            return refused
    elif form.get("client_secret") != app.client_secret:
        return _refusal(
            401,
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the"
            " request is the client secret value, not the client secret ID, for a secret added"
            f" to app '{app.client_id}'.",
        )
    scope = form.get("scope", "")
    if not scope.endswith("/.default"):
        return _refusal(
            400,
            "invalid_scope",
            f"AADSTS1002012: The provided value for scope {scope} is not valid. Client"
            " credential flows must have a scope value with /.default suffixed to the resource"
            " identifier (application ID URI).",
        )
    answer = {
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME,
        "ext_expires_in": TOKEN_LIFETIME,
        "access_token": state.issue_token(),
    }
    return 200, answer


ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CLOCK_SKEW_SECONDS = 300


def _assertion_refusal(
    state: PeerState, tenant: str, form: dict[str, str]
) -> tuple[int, dict[str, Any]] | None:
    """Why a client assertion is refused (None when it proves the app)."""
    app = state.app
    if form.get("client_assertion_type") != ASSERTION_TYPE:
        return _refusal(400, "invalid_request", "AADSTS50027: Invalid client assertion type.")
    try:
        header_part, claims_part, signature_part = form["client_assertion"].split(".")
        header, claims = _decoded(header_part), _decoded(claims_part)
        signature = _unpadded(signature_part)
    except (ValueError, KeyError):
        return _refusal(401, "invalid_client", "AADSTS50027: JWT token is invalid or malformed.")
    certificate = (
        x509.load_pem_x509_certificate(app.certificate.encode()) if app.certificate else None
    )
    unknown = _refusal(
        401,
        "invalid_client",
        "AADSTS700027: Client assertion failed signature validation. The key was not found"
        f" (thumbprint {header.get('x5t')}) among the certificates of app '{app.client_id}'.",
    )
    if certificate is None or header.get("x5t") != _thumbprint(certificate):
        return unknown
    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        return unknown
    try:
        public_key.verify(
            signature,
            f"{header_part}.{claims_part}".encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except InvalidSignature:
        return unknown
    audience = f"{state.url.rsplit('/', 1)[0]}/{tenant}/oauth2/v2.0/token"
    if claims.get("aud") != audience:
        return _refusal(401, "invalid_client", f"AADSTS50027: The audience must be {audience}.")
    if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
        return _refusal(
            401,
            "invalid_client",
            "AADSTS700021: Client assertion application identifier doesn't match 'client_id'.",
        )
    now = time.time()
    if not (claims.get("nbf", 0) - CLOCK_SKEW_SECONDS <= now < claims.get("exp", 0)):
        return _refusal(
            401,
            "invalid_client",
            "AADSTS700024: Client assertion is not within its valid time range.",
        )
    return None


def _thumbprint(certificate: x509.Certificate) -> str:
    return base64.urlsafe_b64encode(certificate.fingerprint(hashes.SHA1())).decode().rstrip("=")


def _unpadded(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _decoded(part: str) -> dict[str, Any]:
    value = json.loads(_unpadded(part))
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _refusal(status: int, error: str, description: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": error, "error_description": description + _TRACE}


def bearer_roles(state: PeerState, authorization: str) -> frozenset[str]:
    """The roles of the request's bearer token (401 without a valid one)."""
    scheme, _, value = authorization.partition(" ")
    if not value.strip():
        raise unauthenticated("Access token is empty.")
    roles = state.token_roles(value.strip()) if scheme.lower() == "bearer" else None
    if roles is None:
        raise unauthenticated("Access token validation failure. Invalid audience or expired.")
    return roles
