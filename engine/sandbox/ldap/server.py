"""The LDAP protocol as a domain controller answers it, on ldaptor's server: simple binds
by DN, UPN or DOMAIN\\user with AD's diagnostics, no search before a bind, the paged
results control with AD's MaxPageSize, and a read-only directory.

ldaptor decodes and encodes the messages and matches the filters; this module holds what
AD does differently from ldaptor's general-purpose server.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ldaptor.interfaces import IConnectedLDAPEntry
from ldaptor.protocols import pureber, pureldap
from ldaptor.protocols.ldap import ldaperrors
from ldaptor.protocols.ldap.distinguishedname import DistinguishedName
from ldaptor.protocols.ldap.ldapserver import LDAPServer
from twisted.internet import protocol
from twisted.python.components import registerAdapter

from engine.sandbox.ldap.directory import AdDomain, AdEntry, is_disabled, text

MAX_PAGE_SIZE = 1000
"""AD's default MaxPageSize: entries per page, and per search without paging."""
PAGED_RESULTS = "1.2.840.113556.1.4.319"
BIND_REQUIRED = (
    "000004DC: LdapErr: DSID-0C090A5C, comment: In order to perform this operation a"
    " successful bind must be completed on the connection., data 0, v4563"
)
_WRONG_CREDENTIALS = "52e"
_DISABLED = "533"

Reply = Callable[[pureldap.LDAPProtocolResponse], None]
Controls = Sequence[tuple[Any, Any, Any]] | None


def bind_failure(code: str) -> str:
    """AD's diagnostic for a failed simple bind; ``data`` is the Windows error (52e: wrong
    user name or password, 533: account disabled)."""
    return (
        "80090308: LdapErr: DSID-0C09041C, comment: AcceptSecurityContext error,"
        f" data {code}, v4563"
    )


def refusal(operation: str) -> str:
    return (
        f"00002035: LdapErr: DSID-0C090F1F, comment: {operation} is not supported by this"
        " directory (the loopback peer is read-only), data 0, v4563"
    )


@dataclass
class Faults:
    """Switchable failures, for tests of a reader that must fail rather than stop early."""

    drop_on_page: int | None = None
    """Abort the connection when a paged search asks for this page (1 is the first)."""


@dataclass
class _PagedSearch:
    remaining: list[AdEntry]
    attributes: Sequence[str]
    page: int = 1


class DomainController(LDAPServer):
    """One client connection."""

    factory: DomainControllerFactory

    def __init__(self) -> None:
        super().__init__()
        self._paged: dict[bytes, _PagedSearch] = {}

    def queue(self, id: int, op: pureldap.LDAPProtocolResponse) -> None:
        """Send ``op`` with the response controls a handler put on it (ldaptor's queue sends
        none)."""
        if not self.connected:
            raise ldaperrors.LDAPOther("connection lost")
        message = pureldap.LDAPMessage(op, controls=getattr(op, "controls", None), id=id)
        self.transport.write(message.toWire())

    def connectionMade(self) -> None:
        super().connectionMade()
        self.factory.connections.add(self)

    def connectionLost(self, reason: Any = protocol.connectionDone) -> None:
        super().connectionLost(reason)
        self.factory.connections.discard(self)

    def handle_LDAPBindRequest(
        self, request: pureldap.LDAPBindRequest, controls: Controls, reply: Reply
    ) -> pureldap.LDAPBindResponse:
        if request.version != 3:
            raise ldaperrors.LDAPProtocolError(f"version {request.version} is not supported")
        self.boundUser = None
        if request.sasl:
            return pureldap.LDAPBindResponse(
                resultCode=ldaperrors.LDAPAuthMethodNotSupported.resultCode,
                errorMessage="only simple binds are supported by the loopback peer",
            )
        name, password = text(request.dn), text(request.auth)
        if not password:
            # AD takes a bind without a password as anonymous (RFC 4513 unauthenticated).
            return pureldap.LDAPBindResponse(resultCode=ldaperrors.Success.resultCode)
        domain = self.factory.domain
        account = domain.account(name)
        dn = account.dn.getText() if account is not None else ""
        if account is None or domain.passwords.get(dn.lower()) != password:
            return _invalid_credentials(_WRONG_CREDENTIALS)
        if is_disabled(account):
            return _invalid_credentials(_DISABLED)
        self.boundUser = account
        return pureldap.LDAPBindResponse(resultCode=ldaperrors.Success.resultCode)

    def getRootDSE(self, request: pureldap.LDAPSearchRequest, reply: Reply) -> Any:
        """Readable before a bind, as AD's is."""
        domain = self.factory.domain
        reply(
            pureldap.LDAPSearchResultEntry(
                objectName="",
                attributes=[
                    ("defaultNamingContext", [domain.base_dn]),
                    ("namingContexts", [domain.base_dn]),
                    ("dnsHostName", [f"dc01.{domain.domain}"]),
                    ("supportedLDAPVersion", ["3"]),
                    ("supportedControl", [PAGED_RESULTS]),
                ],
            )
        )
        return pureldap.LDAPSearchResultDone(resultCode=ldaperrors.Success.resultCode)

    def handle_LDAPSearchRequest(
        self, request: pureldap.LDAPSearchRequest, controls: Controls, reply: Reply
    ) -> Any:
        if not request.baseObject and request.scope == pureldap.LDAP_SCOPE_baseObject:
            return self.getRootDSE(request, reply)
        if self.boundUser is None:
            return pureldap.LDAPSearchResultDone(
                resultCode=ldaperrors.LDAPOperationsError.resultCode, errorMessage=BIND_REQUIRED
            )
        paging = _paging(controls)
        attributes = [text(name) for name in request.attributes]
        if paging is not None and paging[1]:
            return self._next_page(paging, reply)
        root = IConnectedLDAPEntry(self.factory)
        found = root.lookup(DistinguishedName(text(request.baseObject)))
        found.addCallback(
            lambda base: base.search(
                filterObject=request.filter, scope=request.scope, derefAliases=request.derefAliases
            )
        )
        found.addCallback(self._first_answer, request.sizeLimit, attributes, paging, reply)
        found.addErrback(self._no_such_base, request.baseObject)
        return found

    def _first_answer(
        self,
        entries: list[AdEntry],
        size_limit: int,
        attributes: Sequence[str],
        paging: tuple[int, bytes] | None,
        reply: Reply,
    ) -> pureldap.LDAPSearchResultDone | None:
        entries.sort(key=lambda entry: entry.dn.getText().lower())
        if paging is None:
            limit = min(size_limit or MAX_PAGE_SIZE, MAX_PAGE_SIZE)
            for entry in entries[:limit]:
                reply(_result_entry(entry, attributes))
            if len(entries) > limit:
                return pureldap.LDAPSearchResultDone(
                    resultCode=ldaperrors.LDAPSizeLimitExceeded.resultCode,
                    errorMessage="",
                )
            return pureldap.LDAPSearchResultDone(resultCode=ldaperrors.Success.resultCode)
        return self._page(_PagedSearch(entries, attributes), paging[0], reply)

    def _next_page(
        self, paging: tuple[int, bytes], reply: Reply
    ) -> pureldap.LDAPSearchResultDone | None:
        search = self._paged.pop(paging[1], None)
        if search is None:
            return pureldap.LDAPSearchResultDone(
                resultCode=ldaperrors.LDAPProtocolError.resultCode,
                errorMessage="00002040: the paged results cookie is unknown or expired",
            )
        search.page += 1
        return self._page(search, paging[0], reply)

    def _page(
        self, search: _PagedSearch, size: int, reply: Reply
    ) -> pureldap.LDAPSearchResultDone | None:
        """Up to ``size`` entries (AD caps it at MaxPageSize), and the cookie for the rest;
        a size of 0 abandons the search."""
        if self.factory.faults.drop_on_page == search.page:
            self.transport.abortConnection()
            return None
        size = min(size, MAX_PAGE_SIZE)
        page, rest = search.remaining[:size], search.remaining[size:]
        for entry in page:
            reply(_result_entry(entry, search.attributes))
        cookie = b""
        if rest and size:
            cookie = next(self.factory.cookies)
            self._paged[cookie] = _PagedSearch(rest, search.attributes, search.page)
        done = pureldap.LDAPSearchResultDone(resultCode=ldaperrors.Success.resultCode)
        value = pureber.BERSequence([pureber.BERInteger(0), pureber.BEROctetString(cookie)])
        done.controls = [(PAGED_RESULTS, False, value.toWire())]
        return done

    def _no_such_base(self, failure: Any, base: bytes | str) -> pureldap.LDAPSearchResultDone:
        failure.trap(ldaperrors.LDAPNoSuchObject)
        domain = self.factory.domain
        return pureldap.LDAPSearchResultDone(
            resultCode=ldaperrors.LDAPNoSuchObject.resultCode,
            matchedDN=domain.base_dn if text(base).lower().endswith(domain.base_dn.lower()) else "",
            errorMessage="0000208D: NameErr: DSID-0310028B, problem 2001 (NO_OBJECT), data 0,"
            f" best match of: '{domain.base_dn}'",
        )

    def _refuse(self, response: type[pureldap.LDAPResult], operation: str) -> pureldap.LDAPResult:
        return response(
            resultCode=ldaperrors.LDAPUnwillingToPerform.resultCode,
            errorMessage=refusal(operation),
        )

    def handle_LDAPAddRequest(self, *_: object) -> pureldap.LDAPResult:
        return self._refuse(pureldap.LDAPAddResponse, "add")

    def handle_LDAPModifyRequest(self, *_: object) -> pureldap.LDAPResult:
        return self._refuse(pureldap.LDAPModifyResponse, "modify")

    def handle_LDAPDelRequest(self, *_: object) -> pureldap.LDAPResult:
        return self._refuse(pureldap.LDAPDelResponse, "delete")

    def handle_LDAPModifyDNRequest(self, *_: object) -> pureldap.LDAPResult:
        return self._refuse(pureldap.LDAPModifyDNResponse, "modify DN")

    def handle_LDAPCompareRequest(self, *_: object) -> pureldap.LDAPResult:
        return self._refuse(pureldap.LDAPCompareResponse, "compare")

    def handle_LDAPExtendedRequest(
        self, request: pureldap.LDAPExtendedRequest, *_: object
    ) -> pureldap.LDAPResult:
        return self._refuse(
            pureldap.LDAPExtendedResponse, f"the extended operation {text(request.requestName)}"
        )


@dataclass
class DomainControllerFactory(protocol.ServerFactory):
    """What every connection of one peer shares: the domain, the faults, the open
    connections (closed on stop) and the paged-search cookies."""

    domain: AdDomain
    faults: Faults = field(default_factory=Faults)
    connections: set[DomainController] = field(default_factory=set)
    cookies: Iterator[bytes] = field(
        default_factory=lambda: (str(n).encode() for n in itertools.count(1))
    )

    protocol = DomainController


registerAdapter(lambda factory: factory.domain.root, DomainControllerFactory, IConnectedLDAPEntry)


def _paging(controls: Controls) -> tuple[int, bytes] | None:
    """The paged results control's (size, cookie); another critical control is refused, as
    RFC 4511 requires."""
    for control_type, critical, value in controls or ():
        if text(control_type) == PAGED_RESULTS:
            sequence, _ = pureber.berDecodeObject(pureber.BERDecoderContext(), value)
            size, cookie = sequence.data
            return int(size.value), bytes(cookie.value)
        if critical:
            raise ldaperrors.LDAPUnavailableCriticalExtension(
                f"the control {text(control_type)} is not supported"
            )
    return None


def _result_entry(entry: AdEntry, wanted: Sequence[str]) -> pureldap.LDAPSearchResultEntry:
    """The entry with the attributes asked for (all for none or ``*``, none for ``1.1``)."""
    if not wanted or "*" in wanted:
        names = list(entry.keys())
    else:
        names = [name for name in wanted if name != "1.1" and name in entry]
    return pureldap.LDAPSearchResultEntry(
        objectName=entry.dn.getText(),
        attributes=[(str(name), list(entry[name])) for name in names],
    )


def _invalid_credentials(code: str) -> pureldap.LDAPBindResponse:
    return pureldap.LDAPBindResponse(
        resultCode=ldaperrors.LDAPInvalidCredentials.resultCode, errorMessage=bind_failure(code)
    )
