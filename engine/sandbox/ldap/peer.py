"""The LDAP peer on a thread: LDAPS on loopback, served by a Twisted reactor of its own.

Each peer runs its own reactor (not Twisted's global one, which can run once per process),
so tests start and stop a peer each, and :meth:`LdapPeer.stop` closes every connection and
joins the thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Self, TypeVar

from twisted.internet import ssl
from twisted.internet.epollreactor import EPollReactor
from twisted.internet.interfaces import IListeningPort
from twisted.internet.threads import blockingCallFromThread
from twisted.protocols.tls import TLSMemoryBIOFactory

from engine.sandbox.ldap.directory import AdDomain, AdUser, base_dn_of
from engine.sandbox.ldap.server import DomainControllerFactory, Faults
from engine.sandbox.ldap.tls import PEER_HOST, CertificateKind, make_certificate

T = TypeVar("T")


class LdapPeer:
    """A domain's LDAPS endpoint: ``users`` under ``OU=<ou>``, and one bind account (a
    UPN, or a DN one level under the domain); the certificate is issued for ``host``."""

    def __init__(
        self,
        domain: str,
        bind_account: tuple[str, str],
        users: Iterable[AdUser] = (),
        certificate: CertificateKind = CertificateKind.VALID,
        host: str = PEER_HOST,
    ) -> None:
        self.domain = AdDomain(base_dn_of(domain), domain)
        self.bind_dn = self.domain.add_service_account(*bind_account)
        self.domain.put(users)
        self.host = host
        self.certificate = make_certificate(certificate, host)
        self.faults = Faults()
        self._factory = DomainControllerFactory(self.domain, self.faults)
        self._reactor: EPollReactor | None = None
        self._port: IListeningPort | None = None
        self.port = 0
        """Where it listens, once started."""
        self._thread: threading.Thread | None = None

    @property
    def base_dn(self) -> str:
        return self.domain.base_dn

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host``; returns the ``ldaps://`` URL clients are given."""
        reactor = EPollReactor()
        options = ssl.PrivateCertificate.loadPEM(self.certificate.server_pem).options()
        # The TLS layer's write timer is the reactor's own, not the global reactor (idle here).
        tls = TLSMemoryBIOFactory(options, False, self._factory, clock=reactor)
        self._port = reactor.listenTCP(port, tls, interface=host)
        self.port = self._port.getHost().port
        self._reactor = reactor
        self._thread = threading.Thread(
            target=reactor.run,
            kwargs={"installSignalHandlers": False},
            name="ldap-peer",
            daemon=True,
        )
        self._thread.start()
        return f"ldaps://{host}:{self.port}"

    def put_users(self, users: Iterable[AdUser]) -> None:
        """Add users, or replace those with the same directory id, while serving."""
        self._in_reactor(lambda: self.domain.put(list(users)))

    def remove_user(self, directory_id: str) -> None:
        self._in_reactor(lambda: self.domain.remove(directory_id))

    def stop(self) -> None:
        reactor, self._reactor = self._reactor, None
        if reactor is None or self._thread is None:
            return
        port = self._port
        blockingCallFromThread(reactor, self._close, port)
        reactor.callFromThread(reactor.stop)
        self._thread.join(timeout=5)

    def _close(self, port: IListeningPort | None) -> object:
        for connection in list(self._factory.connections):
            connection.transport.abortConnection()
        return port.stopListening() if port is not None else None

    def _in_reactor(self, change: Callable[[], T]) -> T:
        if self._reactor is None:
            return change()
        return blockingCallFromThread(self._reactor, change)

    def __enter__(self) -> Self:
        if self._reactor is None:
            self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
