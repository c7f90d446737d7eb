"""exchangelib's protocol (session pool) owned by one EWS connection, never shared.

exchangelib caches one ``Protocol`` per (endpoint, credentials) for the whole process, and
the first configuration wins: a later connection to the same endpoint with the same account
but another authentication type, TLS choice, version or deadline got the first one's
protocol (a failed NTLM test made every later Basic test fail, a Basic success made NTLM
pass). Its adapter, timeout and retry wait are class attributes, so one connection's
``verify_tls = false`` also stayed on for every later one. Here credentials are equal only
to themselves, so each connection's key is its own; the protocol holds its sessions to the
connection's :class:`~engine.net.limits.HttpLimits`; and closing the connection removes it
from exchangelib's cache.
"""

from __future__ import annotations

import contextlib
from typing import Any

import requests
from exchangelib import Configuration, Credentials, OAuth2Credentials
from exchangelib.errors import SessionPoolMinSizeReached
from exchangelib.protocol import Protocol

from engine.net.bounded_requests import bound
from engine.net.limits import HttpLimits


class _OneConnection:
    """Credentials that key exchangelib's protocol cache for one connection only."""

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)


class ConnectionCredentials(_OneConnection, Credentials):
    """A user name and password (NTLM, Basic) for one connection."""


class ConnectionOAuth2Credentials(_OneConnection, OAuth2Credentials):
    """Client-credentials OAuth2 for one connection, against a configurable token endpoint
    (sovereign clouds, the loopback emulator)."""

    def __init__(self, *args: Any, token_endpoint: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._token_endpoint = token_endpoint

    @property
    def token_url(self) -> str:
        return self._token_endpoint or super().token_url


class ConnectionProtocol(Protocol):
    """The session pool of one connection: every session is held to its limits."""

    def __init__(self, *args: Any, limits: HttpLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        self.TIMEOUT = limits.deadline_seconds
        # Short first waits: a mailbox that stays throttled is deferred to the next run.
        self.RETRY_WAIT = 1

    def raw_session(  # type: ignore[override]
        self,
        prefix: str,
        oauth2_client: Any = None,
        oauth2_session_params: Any = None,
        oauth2_token_endpoint: str | None = None,
    ) -> requests.Session:
        """exchangelib's session, its adapters replaced by bounded ones (an instance method
        where exchangelib has a class method: the limits are this connection's)."""
        session = super().raw_session(
            prefix, oauth2_client, oauth2_session_params, oauth2_token_endpoint
        )
        return bound(
            session,
            self.limits,
            pool_block=True,
            pool_connections=self.CONNECTIONS_PER_SESSION,
            pool_maxsize=self.CONNECTIONS_PER_SESSION,
            max_retries=0,
        )

    def decrease_poolsize(self) -> None:
        """exchangelib 5.6 can deadlock when it shrinks its session pool while several
        threads back off at once (decrease_poolsize takes the pool lock, then waits for a
        session that increase_poolsize needs the same lock to create). The pool is kept;
        throttling is still honoured by the back-off itself."""
        raise SessionPoolMinSizeReached("msext keeps its EWS session pool")


def open_protocol(config: Configuration, limits: HttpLimits) -> ConnectionProtocol:
    """The connection's protocol, in exchangelib's cache under the connection's own key (so
    that the ``Account`` objects made from ``config`` find it)."""
    protocol = ConnectionProtocol(config=config, limits=limits)
    if not isinstance(protocol, ConnectionProtocol):
        raise TypeError("the credentials of an EWS connection must be its own")
    return protocol


def close_protocol(protocol: Protocol) -> None:
    """Close the sessions and forget the protocol, so that nothing reuses it."""
    with contextlib.suppress(KeyError):
        del Protocol[protocol.config]
    protocol.close()
