"""Where credentials may go: over https, or plain http to this machine only; and which
server-supplied links may be followed: those of the configured origin."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from engine.errors import UserError

LOOPBACK_NAMES = frozenset({"localhost"})
INSECURE_MESSAGE = (
    "must be https: plain http would send credentials unencrypted (http is accepted only to"
    " this machine: 127.0.0.1, ::1 or localhost)"
)


class InsecureTransportError(UserError):
    """A credential would travel over plain http to another machine."""


class ForeignLinkError(UserError):
    """A server named a link outside the configured origin; msext does not follow it."""


def is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_loopback(host: str) -> bool:
    return host.lower() in LOOPBACK_NAMES or (
        is_ip_address(host) and ipaddress.ip_address(host).is_loopback
    )


def is_encrypted_or_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname or ""))


def require_encrypted(url: str, what: str) -> str:
    """``url`` itself, if credentials may be sent to it."""
    if not is_encrypted_or_local(url):
        raise InsecureTransportError(f"{what} {url} {INSECURE_MESSAGE}")
    return url


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port made explicit."""
    parts = urlsplit(url)
    port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def require_same_origin(link: str, base: str, what: str) -> str:
    """``link`` itself, if it has the scheme, host and port of ``base``."""
    if origin(link) != origin(base):
        raise ForeignLinkError(
            f"{what} points to {_shown(link)}, outside {_shown(base)}: msext follows links only"
            " to the configured server and refused it"
        )
    return link


def _shown(url: str) -> str:
    scheme, host, port = origin(url)
    return f"{scheme}://{host}:{port}"
