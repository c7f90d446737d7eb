"""The LDAP peer answers ldap3 as a domain controller does: AD's bind diagnostics, no
search before a bind, paging at MaxPageSize 1,000, a read-only directory, and a server
certificate that is valid, expired, self-signed or for another host."""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from pathlib import Path

import ldap3
import pytest
from ldap3.core.exceptions import LDAPCommunicationError, LDAPSocketOpenError

from engine.adsync.model import DirectoryUser
from engine.psa.contacts import ContactValues
from engine.sandbox.ldap import AdUser, CertificateKind, LdapPeer

DOMAIN = "contoso.example"
SERVICE = ("svc-ldap@contoso.example", "b1nd-pass")
USERS = int(os.environ.get("MSEXT_LDAP_USERS", "1500"))
"""Over one page of 1,000; ``MSEXT_LDAP_USERS=100000`` tries a large domain."""


def person(number: int, enabled: bool = True, groups: tuple[str, ...] = ()) -> AdUser:
    values = ContactValues(
        first_name="Ann", last_name=f"Lee{number}", email=f"ann.lee{number}@contoso.example"
    )
    user = DirectoryUser(
        f"00000000-0000-4000-8000-{number:012d}", f"alee{number}@contoso.example", values, enabled
    )
    return AdUser(user, groups=groups)


@pytest.fixture(scope="module")
def peer() -> Iterator[LdapPeer]:
    users = [
        person(n, enabled=n % 10 != 0, groups=("CRM users",) if n < 5 else ()) for n in range(USERS)
    ]
    with LdapPeer(DOMAIN, SERVICE, users) as peer:
        yield peer


@pytest.fixture(scope="module")
def ca_file(peer: LdapPeer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ldap") / "domain-ca.pem"
    path.write_text(peer.certificate.ca_pem)
    return path


def connect(
    peer: LdapPeer,
    ca_file: Path | None,
    user: str | None = SERVICE[0],
    password: str | None = SERVICE[1],
) -> ldap3.Connection:
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(ca_file) if ca_file else None)
    server = ldap3.Server(
        peer.host, port=peer.port, use_ssl=True, tls=tls, get_info=ldap3.NONE, connect_timeout=5
    )
    return ldap3.Connection(server, user=user, password=password, receive_timeout=10)


@pytest.fixture
def bound(peer: LdapPeer, ca_file: Path) -> Iterator[ldap3.Connection]:
    connection = connect(peer, ca_file)
    assert connection.bind(), connection.result
    yield connection
    connection.unbind()


@pytest.mark.parametrize("name", [SERVICE[0], "CONTOSO\\svc-ldap", "bind DN"])
def test_simple_bind_by_upn_down_level_name_or_dn(peer: LdapPeer, ca_file: Path, name: str) -> None:
    connection = connect(peer, ca_file, peer.bind_dn if name == "bind DN" else name)
    assert connection.bind(), connection.result
    connection.unbind()


@pytest.mark.parametrize("name", [SERVICE[0], "nobody@contoso.example"])
def test_wrong_password_or_unknown_account_is_invalid_credentials_52e(
    peer: LdapPeer, ca_file: Path, name: str
) -> None:
    connection = connect(peer, ca_file, name, "wrong")
    assert not connection.bind()
    assert connection.result["result"] == 49
    assert "AcceptSecurityContext error, data 52e" in connection.result["message"]


def test_a_disabled_account_cannot_bind_533(tmp_path: Path) -> None:
    with LdapPeer(DOMAIN, SERVICE) as peer:
        peer.domain.add_service_account("old-svc@contoso.example", "old-pass", enabled=False)
        ca_file = tmp_path / "ca.pem"
        ca_file.write_text(peer.certificate.ca_pem)
        connection = connect(peer, ca_file, "old-svc@contoso.example", "old-pass")
        assert not connection.bind()
    assert connection.result["result"] == 49
    assert "AcceptSecurityContext error, data 533" in connection.result["message"]


def test_a_sasl_bind_is_refused_as_unsupported(peer: LdapPeer, ca_file: Path) -> None:
    connection = connect(peer, ca_file, None, None)
    connection.authentication = ldap3.SASL
    connection.sasl_mechanism = ldap3.EXTERNAL
    assert not connection.bind()
    assert connection.result["description"] == "authMethodNotSupported"


def test_anonymous_search_is_refused_and_the_root_dse_is_not(peer: LdapPeer, ca_file: Path) -> None:
    connection = connect(peer, ca_file, None, None)
    assert connection.bind()
    assert connection.search("", "(objectClass=*)", ldap3.BASE, attributes=["defaultNamingContext"])
    assert connection.entries[0].defaultNamingContext.value == peer.base_dn
    assert not connection.search(peer.base_dn, "(objectClass=user)")
    assert connection.result["result"] == 1
    assert connection.result["message"].startswith("000004DC")
    assert "successful bind must be completed" in connection.result["message"]


def test_paged_search_pages_at_most_1000(bound: ldap3.Connection, peer: LdapPeer) -> None:
    pages, cookie, names = [], None, set()
    while True:
        assert bound.search(
            peer.base_dn,
            "(&(objectCategory=person)(objectClass=user))",
            attributes=["sAMAccountName"],
            paged_size=5000,
            paged_cookie=cookie,
        )
        pages.append(len(bound.entries))
        names.update(entry.sAMAccountName.value for entry in bound.entries)
        cookie = bound.result["controls"]["1.2.840.113556.1.4.319"]["value"]["cookie"]
        if not cookie:
            break
    assert max(pages) == 1000
    assert sum(pages) == len(names) == USERS + 1  # the bind account is a user too


def test_search_over_1000_without_paging_returns_1000_and_size_limit_exceeded(
    bound: ldap3.Connection, peer: LdapPeer
) -> None:
    bound.search(peer.base_dn, "(objectClass=user)", attributes=["1.1"])
    assert bound.result["description"] == "sizeLimitExceeded"
    assert len(bound.entries) == 1000


def test_users_carry_ad_attributes_and_filters_use_ad_semantics(
    bound: ldap3.Connection, peer: LdapPeer
) -> None:
    enabled = (
        "(&(objectCategory=person)(objectClass=user)"
        "(!(userAccountControl:1.2.840.113556.1.4.803:=2)))"
    )
    wanted = ["objectGUID", "userAccountControl", "userPrincipalName", "givenName", "mail"]
    assert bound.search(peer.base_dn, f"(&{enabled}(sn=Lee1*))", attributes=wanted, paged_size=1000)
    found = {
        entry["raw_attributes"]["userPrincipalName"][0].decode(): entry for entry in bound.response
    }
    assert "alee11@contoso.example" in found
    assert "alee10@contoso.example" not in found  # disabled: userAccountControl has 0x2
    assert "alee21@contoso.example" not in found  # sn=Lee21 does not start with Lee1
    entry = found["alee11@contoso.example"]["raw_attributes"]
    assert len(entry["objectGUID"][0]) == 16
    assert entry["userAccountControl"] == [b"512"]
    assert entry["mail"] == [b"ann.lee11@contoso.example"]
    group = f"CN=CRM users,OU=Groups,{peer.base_dn}"
    assert bound.search(peer.base_dn, f"(memberOf={group})", attributes=["sAMAccountName"])
    assert sorted(entry.sAMAccountName.value for entry in bound.entries) == [
        f"alee{n}" for n in range(5)
    ]


def test_writes_and_extended_operations_are_refused_by_name(
    bound: ldap3.Connection, peer: LdapPeer
) -> None:
    dn = f"CN=Ann Lee1,OU=Staff,{peer.base_dn}"
    attempts = {
        "add": lambda: bound.add(f"CN=New,OU=Staff,{peer.base_dn}", "user"),
        "modify": lambda: bound.modify(dn, {"title": [(ldap3.MODIFY_REPLACE, ["CEO"])]}),
        "delete": lambda: bound.delete(dn),
        "modify DN": lambda: bound.modify_dn(dn, "CN=Renamed"),
        "1.3.6.1.4.1.4203.1.11.3": lambda: bound.extend.standard.who_am_i(),
    }
    for operation, attempt in attempts.items():
        attempt()
        assert bound.result["result"] == 53, operation
        assert f"{operation} is not supported" in bound.result["message"]
    assert bound.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["title"])
    assert not bound.entries[0].title.value


def test_a_valid_certificate_is_trusted_through_the_domain_ca_only(
    peer: LdapPeer, ca_file: Path
) -> None:
    assert connect(peer, ca_file).bind()
    with pytest.raises(LDAPSocketOpenError, match="CERTIFICATE_VERIFY_FAILED"):
        connect(peer, None).bind()


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        (CertificateKind.EXPIRED, "certificate has expired"),
        (CertificateKind.SELF_SIGNED, "self-signed certificate"),
        (CertificateKind.WRONG_HOST, "doesn.t match any name"),
    ],
)
def test_a_bad_certificate_is_refused_by_the_client(
    kind: CertificateKind, reason: str, tmp_path: Path
) -> None:
    with LdapPeer(DOMAIN, SERVICE, certificate=kind) as peer:
        ca_file = tmp_path / "ca.pem"
        ca_file.write_text(peer.certificate.ca_pem)
        with pytest.raises(LDAPSocketOpenError, match=reason):
            connect(peer, ca_file).bind()


def test_stop_closes_open_connections_and_the_port(tmp_path: Path) -> None:
    peer = LdapPeer(DOMAIN, SERVICE)
    peer.start()
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text(peer.certificate.ca_pem)
    connection = connect(peer, ca_file)
    assert connection.bind()
    peer.stop()
    with pytest.raises(LDAPCommunicationError):
        connection.search(peer.base_dn, "(objectClass=user)")
    with pytest.raises(LDAPSocketOpenError):
        connect(peer, ca_file).bind()
