"""The LDAPS reader against the LDAP peer: AD's users of every filter under the base DN,
once each, page after page; a disabled account flagged; and any failure a DirectoryError
in one line (an untrusted certificate says why), never a partly read scope."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.adsync.ldaps import LdapsReader
from engine.adsync.model import DirectoryError, DirectoryUser
from engine.psa.contacts import ContactValues
from engine.sandbox.ldap import AdUser, CertificateKind, LdapPeer
from engine.settings.adsync import ContactField, LdapsDirectory

DOMAIN = "fabrikam.example"
SERVICE = ("svc-sync@fabrikam.example", "r3ad-only")
MANY = int(os.environ.get("MSEXT_LDAP_USERS", "1200"))
"""Over a page of 1,000; ``MSEXT_LDAP_USERS=100000`` reads a large domain."""

ANA = DirectoryUser(
    "6f1c2b9e-3d4a-4c5b-8e7f-0a1b2c3d4e5f",
    "ana.silva",
    ContactValues(
        first_name="Ana",
        middle_name="Maria",
        last_name="Silva",
        email="ana.silva@fabrikam.example",
        title="Sales Manager",
        department="Sales",
        phone="+1 555 0100",
        mobile_phone="+1 555 0101",
        street="1 Harbor Road",
        city="Seattle",
        state="WA",
        postal_code="98101",
        country="United States",
    ),
)
BEN = DirectoryUser(
    "0d9e8f7a-6b5c-4d3e-9f1a-2b3c4d5e6f70",
    "ben.okafor",
    ContactValues(first_name="Ben", last_name="Okafor", title="Manager", department="Support"),
)
CARL = DirectoryUser(
    "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
    "carl.berg",
    ContactValues(first_name="Carl", last_name="Berg", department="Sales"),
    enabled=False,
)
DORA = DirectoryUser(
    "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e",
    "dora.lind",
    ContactValues(first_name="Dora", last_name="Lind", department="Finance"),
)
SALES = "(&(objectCategory=person)(objectClass=user)(department=Sales))"
MANAGERS = "(&(objectCategory=person)(objectClass=user)(title=*Manager))"


def settings(peer: LdapPeer, ca_file: Path | None, **changes: object) -> LdapsDirectory:
    values: dict[str, object] = {
        "host": peer.host,
        "port": peer.port,
        "bind_dn": SERVICE[0],
        "base_dn": f"OU=Staff,{peer.base_dn}",
        "filters": [SALES, MANAGERS],
        "ca_file": str(ca_file) if ca_file else None,
        "timeout_seconds": 5,
    }
    return LdapsDirectory.model_validate(values | changes)


def reader(settings: LdapsDirectory, password: str) -> LdapsReader:
    return LdapsReader(settings, list(ContactField), password)


def trusted(peer: LdapPeer, tmp_path: Path) -> Path:
    ca_file = tmp_path / "domain-ca.pem"
    ca_file.write_text(peer.certificate.ca_pem)
    return ca_file


@pytest.fixture
def peer() -> Iterator[LdapPeer]:
    with LdapPeer(DOMAIN, SERVICE, [AdUser(user) for user in (ANA, BEN, CARL, DORA)]) as peer:
        yield peer


@pytest.fixture
def directory(peer: LdapPeer, tmp_path: Path) -> Iterator[LdapsReader]:
    directory = reader(settings(peer, trusted(peer, tmp_path)), SERVICE[1])
    yield directory
    directory.close()


def test_users_of_every_filter_once_each_with_ad_values(directory: LdapsReader) -> None:
    users = list(directory.users())
    assert [user.login for user in users].count(ANA.login) == 1  # in both filters
    assert {user.directory_id: user for user in users} == {
        user.directory_id: user for user in (ANA, BEN, CARL)
    }


def test_a_disabled_account_is_read_as_not_enabled(directory: LdapsReader) -> None:
    enabled = {user.login: user.enabled for user in directory.users()}
    assert enabled[CARL.login] is False
    assert enabled[ANA.login] is True


def test_pages_past_1000_users_are_all_read(peer: LdapPeer, tmp_path: Path) -> None:
    many = [
        AdUser(
            DirectoryUser(
                f"id-{n}",
                f"user{n}",
                ContactValues(first_name="User", last_name=str(n), department="Sales"),
            ),
            ou="Branch",
        )
        for n in range(MANY)
    ]
    peer.put_users(many)
    directory = reader(
        settings(peer, trusted(peer, tmp_path), base_dn=peer.base_dn, filters=[SALES]), SERVICE[1]
    )
    logins = [user.login for user in directory.users()]
    assert len(logins) == len(set(logins)) == MANY + 2  # and Ana and Carl
    directory.close()


def test_a_connection_dropped_between_pages_raises(peer: LdapPeer, tmp_path: Path) -> None:
    peer.put_users(
        AdUser(
            DirectoryUser(
                f"id-{n}",
                f"user{n}",
                ContactValues(last_name=str(n), department="Sales"),
            )
        )
        for n in range(1001)
    )
    peer.faults.drop_on_page = 2
    directory = reader(settings(peer, trusted(peer, tmp_path)), SERVICE[1])
    read = []
    with pytest.raises(DirectoryError, match=f"reading localhost:{peer.port} failed"):
        read.extend(directory.users())
    assert len(read) == 1000


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        (CertificateKind.EXPIRED, r"refused: expired on \d{4}-\d\d-\d\d$"),
        (CertificateKind.SELF_SIGNED, "refused: self-signed: not issued by a trusted CA"),
        (
            CertificateKind.WRONG_HOST,
            "refused: wrong host: issued for dc01.fabrikam.example, not localhost",
        ),
    ],
)
def test_an_untrusted_certificate_is_refused_in_one_line(
    kind: CertificateKind, reason: str, tmp_path: Path
) -> None:
    with LdapPeer(DOMAIN, SERVICE, [AdUser(ANA)], certificate=kind) as peer:
        directory = reader(settings(peer, trusted(peer, tmp_path)), SERVICE[1])
        with pytest.raises(DirectoryError, match=reason) as refused:
            list(directory.users())
    assert "\n" not in str(refused.value)
    assert str(refused.value).startswith(f"the LDAPS certificate of localhost:{peer.port}")


def test_the_system_store_does_not_trust_a_domain_ca(peer: LdapPeer) -> None:
    with pytest.raises(
        DirectoryError, match="issued by msext sandbox domain CA, which is not trusted"
    ):
        list(reader(settings(peer, None), SERVICE[1]).users())


def test_without_verification_it_reads_and_warns(
    peer: LdapPeer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        directory = reader(settings(peer, None, verify_tls=False), SERVICE[1])
    assert "not verified (verify_tls is off)" in caplog.text
    assert len(list(directory.users())) == 3
    directory.close()


def test_a_wrong_password_says_so_with_ad_data_code(peer: LdapPeer, tmp_path: Path) -> None:
    directory = reader(settings(peer, trusted(peer, tmp_path)), "wrong")
    with pytest.raises(
        DirectoryError,
        match=r"cannot bind as svc-sync@fabrikam.example: wrong user name or password"
        r" \(AD data 52e\)",
    ):
        list(directory.users())


def test_check_walks_every_step_and_counts_each_filter(directory: LdapsReader) -> None:
    steps = list(directory.check())
    assert [(step.name, step.ok) for step in steps] == [
        ("TCP connect", True),
        ("TLS certificate", True),
        ("Bind", True),
        ("Base DN", True),
        ("Filter 1", True),
        ("Filter 2", True),
    ]
    assert steps[1].detail.startswith("valid until ")
    assert steps[4].detail.endswith(": 2 entries")  # Ana and Carl are in Sales
    assert steps[5].detail.endswith(": 2 entries")  # Ana and Ben are managers


def test_check_stops_at_the_first_failure(peer: LdapPeer, tmp_path: Path) -> None:
    missing = settings(peer, trusted(peer, tmp_path), base_dn=f"OU=Gone,{peer.base_dn}")
    steps = list(reader(missing, SERVICE[1]).check())
    assert steps[-1].name == "Base DN"
    assert not steps[-1].ok
    assert steps[-1].detail == f"the base DN OU=Gone,{peer.base_dn} does not exist"
    with LdapPeer(DOMAIN, SERVICE, certificate=CertificateKind.EXPIRED) as expired:
        steps = list(reader(settings(expired, trusted(expired, tmp_path)), "x").check())
    assert [(step.name, step.ok) for step in steps] == [
        ("TCP connect", True),
        ("TLS certificate", False),
    ]
    assert steps[-1].detail.startswith("expired on ")


def test_an_invalid_filter_is_named(peer: LdapPeer, tmp_path: Path) -> None:
    directory = reader(
        settings(peer, trusted(peer, tmp_path), filters=["(department=Sales"]), SERVICE[1]
    )
    with pytest.raises(DirectoryError, match=r"the filter \(department=Sales is not valid LDAP"):
        list(directory.users())


def test_certificate_status_for_the_ssl_column(directory: LdapsReader, peer: LdapPeer) -> None:
    status = directory.certificate_status()
    assert status.valid
    assert status.not_after == peer.certificate.not_after
    assert status.detail == f"valid until {peer.certificate.not_after:%Y-%m-%d}"


def test_only_the_fields_the_organization_syncs_are_read(peer: LdapPeer, tmp_path: Path) -> None:
    directory = LdapsReader(
        settings(peer, trusted(peer, tmp_path)), [ContactField.TITLE], SERVICE[1]
    )
    ana = next(user for user in directory.users() if user.login == ANA.login)
    expected = ContactValues(
        first_name="Ana",
        middle_name="Maria",
        last_name="Silva",
        email=ANA.values.email,
        title="Sales Manager",
    )
    assert ana.values == expected
    directory.close()
