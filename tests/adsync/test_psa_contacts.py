"""The PSA contacts AD Sync reads and writes, through both PSA sources: the embedded PSA,
and the REST API through its loopback peer over a socket."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import pytest

from engine.errors import UserError
from engine.psa.contacts import (
    WRITE_BATCH,
    ContactValues,
    ContactWrite,
    ContactWriteError,
    PsaContacts,
)
from engine.psa.demo import DemoSize, seed_demo_psa
from engine.psa.embedded import EmbeddedPsa
from engine.psa.model import RecordKind
from engine.psa.rest import RestPsa
from engine.psa.rest_client import PsaRestClient, PsaThrottledError, RequestBudget
from engine.sandbox.psa_rest import PsaRestEmulator

ADA = ContactValues(
    first_name="Ada",
    middle_name="Grace",
    last_name="Lovelace",
    email="ada@customer.example",
    title="Analyst",
    department="Engineering",
    phone="+1 555 0100",
    mobile_phone="+1 555 0199",
    street="12 Mill Lane",
    city="Riverton",
    state="Oregon",
    postal_code="97000",
    country="United States",
)


@dataclass
class Psa:
    """A PSA source under test, and the embedded PSA behind it for seeding and checks."""

    source: PsaContacts
    db: EmbeddedPsa
    company: int
    other_company: int
    peer: PsaRestEmulator | None = None

    def contact(self, contact_id: int) -> tuple[ContactValues, bool]:
        (found,) = [c for c in self.source.company_contacts(self.company) if c.id == contact_id]
        return found.values, found.active

    def seed(self, values: ContactValues, active: bool = True, company: int = 0) -> int:
        (new,) = self.source.write_contacts(
            company or self.company, [ContactWrite(None, values, active=active)]
        )
        return new


def _companies(db: EmbeddedPsa) -> tuple[int, int]:
    return (
        db.insert("companies", name="Cedar Dental 1", address="", owner_resource_id=None),
        db.insert("companies", name="Summit Foods 2", address="", owner_resource_id=None),
    )


@pytest.fixture(params=["embedded", "rest"])
def psa(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Psa]:
    db = EmbeddedPsa(tmp_path / "psa.sqlite")
    company, other = _companies(db)
    if request.param == "embedded":
        yield Psa(db, db, company, other)
    else:
        with PsaRestEmulator(tmp_path / "psa.sqlite") as peer:
            source = RestPsa(rest_client(peer))
            yield Psa(source, db, company, other, peer)
            source.close()
    db.close()


def rest_client(peer: PsaRestEmulator) -> PsaRestClient:
    user = peer.user
    return PsaRestClient(peer.url, user.username, user.secret, user.integration_code)


def test_reads_the_companys_active_and_inactive_contacts(psa: Psa) -> None:
    active = psa.seed(ADA)
    inactive = psa.seed(replace(ADA, email="old@customer.example"), active=False)
    psa.seed(replace(ADA, email="elsewhere@customer.example"), company=psa.other_company)
    found = {contact.id: contact for contact in psa.source.company_contacts(psa.company)}
    assert sorted(found) == [active, inactive]
    assert found[active].active and not found[inactive].active
    assert found[active].company_id == psa.company
    assert found[active].values == psa.source.stored_values(ADA)


def test_a_company_the_psa_lacks_is_an_error_not_an_empty_organization(psa: Psa) -> None:
    with pytest.raises(UserError, match="no company 999"):
        psa.source.company_contacts(999)


def test_creations_come_back_with_new_ids_in_order(psa: Psa) -> None:
    writes = [
        ContactWrite(None, replace(ADA, email=f"n{number}@customer.example")) for number in range(3)
    ]
    ids = psa.source.write_contacts(psa.company, writes)
    assert len(set(ids)) == 3
    assert [psa.contact(i)[0].email for i in ids] == [f"n{n}@customer.example" for n in range(3)]


def test_an_update_writes_only_the_changed_fields(psa: Psa) -> None:
    """Someone edited the phone in the PSA; the sync changes the title only, and the
    phone keeps the PSA's value although the write carries the old one."""
    contact = psa.seed(ADA)
    psa.db.update(RecordKind.CONTACT, contact, phone="+1 555 0123")
    new = replace(ADA, title="Lead analyst")
    assert psa.source.write_contacts(
        psa.company, [ContactWrite(contact, new, frozenset({"title"}))]
    ) == [contact]
    values, active = psa.contact(contact)
    assert (values.title, values.phone, active) == ("Lead analyst", "+1 555 0123", True)


def test_a_blank_value_is_never_written(psa: Psa) -> None:
    """Issue 19: a blank directory field never overwrites a PSA value, even when a write
    names it as changed."""
    contact = psa.seed(ADA)
    blanked = replace(ADA, title="", mobile_phone="", city="Lakeview")
    psa.source.write_contacts(
        psa.company, [ContactWrite(contact, blanked, frozenset({"title", "mobile_phone", "city"}))]
    )
    values, _ = psa.contact(contact)
    assert (values.title, values.mobile_phone, values.city) == (
        "Analyst",
        "+1 555 0199",
        "Lakeview",
    )


def test_a_contact_is_inactivated_and_reactivated(psa: Psa) -> None:
    """Issue 19: a user who leaves the scope makes the contact inactive, never deleted; a
    match on an inactive contact reactivates it."""
    contact = psa.seed(ADA)
    psa.source.write_contacts(psa.company, [ContactWrite(contact, ADA, active=False)])
    assert psa.contact(contact) == (psa.source.stored_values(ADA), False)
    moved = replace(ADA, city="Oakdale")
    psa.source.write_contacts(
        psa.company, [ContactWrite(contact, moved, frozenset({"city"}), active=True)]
    )
    values, active = psa.contact(contact)
    assert (values.city, active) == ("Oakdale", True)


def test_a_batch_of_500_is_written_and_a_bigger_one_refused(psa: Psa) -> None:
    """Issue 19: batches of 500. The company then has 501 contacts: over REST they are
    read in two pages (the API's 500 a page, following its nextPageUrl)."""
    first = psa.seed(ADA)
    writes = [
        ContactWrite(None, ContactValues("User", "", f"Number {n}", f"u{n}@customer.example"))
        for n in range(WRITE_BATCH)
    ]
    ids = psa.source.write_contacts(psa.company, writes)
    assert len(set(ids)) == WRITE_BATCH
    found = psa.source.company_contacts(psa.company)
    assert [contact.id for contact in found] == sorted([first, *ids])
    with pytest.raises(ValueError, match="at most 500"):
        psa.source.write_contacts(psa.company, [*writes, writes[0]])
    assert len(psa.source.company_contacts(psa.company)) == WRITE_BATCH + 1


def test_a_write_to_a_deleted_contact_fails_clearly_and_writes_nothing(psa: Psa) -> None:
    kept, gone = psa.seed(ADA), psa.seed(replace(ADA, email="gone@customer.example"))
    psa.db.delete(RecordKind.CONTACT, gone)
    writes = [
        ContactWrite(kept, replace(ADA, title="Written?"), frozenset({"title"})),
        ContactWrite(gone, replace(ADA, title="Back?"), frozenset({"title"})),
    ]
    with pytest.raises(ContactWriteError, match=f"contact {gone} is no longer") as refused:
        psa.source.write_contacts(psa.company, writes)
    assert (refused.value.index, refused.value.written) == (1, ())
    assert psa.contact(kept)[0].title == "Analyst"


def test_a_contact_of_another_company_is_not_written(psa: Psa) -> None:
    theirs = psa.seed(ADA, company=psa.other_company)
    with pytest.raises(ContactWriteError, match=f"contact {theirs} is no longer"):
        psa.source.write_contacts(
            psa.company, [ContactWrite(theirs, ADA, frozenset({"title"}), active=False)]
        )


def test_a_new_contact_needs_a_first_and_a_last_name(psa: Psa) -> None:
    with pytest.raises(ContactWriteError, match="first and a last name"):
        psa.source.write_contacts(psa.company, [ContactWrite(None, replace(ADA, last_name=""))])
    assert psa.source.company_contacts(psa.company) == []


def test_an_older_database_gains_the_new_contact_columns(tmp_path: Path) -> None:
    """A PSA database made before AD Sync opens with the contact fields it needs; its
    contacts are active and their new fields blank."""
    path = tmp_path / "old.sqlite"
    with closing(sqlite3.connect(path)) as old:
        old.executescript(
            "CREATE TABLE companies (id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " address TEXT NOT NULL DEFAULT '', owner_resource_id INTEGER, seq INTEGER NOT NULL);"
            "CREATE TABLE contacts (id INTEGER PRIMARY KEY, company_id INTEGER NOT NULL"
            " REFERENCES companies(id), first_name TEXT NOT NULL, last_name TEXT NOT NULL,"
            " email TEXT, phone TEXT, title TEXT, seq INTEGER NOT NULL);"
            "INSERT INTO companies VALUES (1, 'Cedar Dental 1', '', NULL, 1);"
            "INSERT INTO contacts VALUES (7, 1, 'Ada', 'Lovelace', 'ada@x.example', NULL, NULL, 2);"
        )
        old.commit()
    db = EmbeddedPsa(path)
    try:
        (contact,) = db.company_contacts(1)
        assert contact.active and contact.values == ContactValues(
            first_name="Ada", last_name="Lovelace", email="ada@x.example"
        )
        db.write_contacts(1, [ContactWrite(7, ADA, frozenset({"department"}))])
        assert db.company_contacts(1)[0].values.department == "Engineering"
    finally:
        db.close()


@pytest.fixture
def rest(tmp_path: Path) -> Iterator[tuple[RestPsa, PsaRestEmulator, int]]:
    db = EmbeddedPsa(tmp_path / "psa.sqlite")
    company, _ = _companies(db)
    db.close()
    with PsaRestEmulator(tmp_path / "psa.sqlite") as peer:
        source = RestPsa(rest_client(peer))
        yield source, peer, company
        source.close()


def test_over_rest_what_the_contacts_entity_cannot_hold_is_cut_or_left_blank(
    rest: tuple[RestPsa, PsaRestEmulator, int],
) -> None:
    """The entity has no department, shorter fields than a directory, and countries by id:
    the values read back are exactly :meth:`stored_values`, so a second run finds nothing
    to change."""
    source, _, company = rest
    long = replace(ADA, middle_name="M" * 60, street="S" * 140, country="us")
    assert len(source.write_contacts(company, [ContactWrite(None, long)])) == 1
    (found,) = source.company_contacts(company)
    assert found.values == source.stored_values(long)
    assert (found.values.department, found.values.country) == ("", "United States")
    assert (len(found.values.middle_name), len(found.values.street)) == (50, 128)
    assert source.stored_values(replace(ADA, country="Atlantis")).country == ""


def test_over_rest_a_contact_deleted_during_the_batch_names_what_was_written(
    rest: tuple[RestPsa, PsaRestEmulator, int],
) -> None:
    """The API writes one contact a request: someone deletes the contact between the
    batch's check and its write, and the error says which writes went through."""
    source, peer, company = rest
    (kept,) = source.write_contacts(company, [ContactWrite(None, ADA)])
    peer.vanish(1)
    writes = [
        ContactWrite(None, replace(ADA, email="new@customer.example")),
        ContactWrite(kept, replace(ADA, title="Lead"), frozenset({"title"})),
    ]
    with pytest.raises(ContactWriteError, match="deleted during the run") as refused:
        source.write_contacts(company, writes)
    (created,) = refused.value.written
    assert refused.value.index == 1
    assert [c.id for c in source.company_contacts(company)] == [created]


def test_over_rest_every_write_draws_on_the_hourly_budget(
    rest: tuple[RestPsa, PsaRestEmulator, int],
) -> None:
    """psa.rest_requests_per_hour holds for AD Sync too: a batch stops when the hour's
    share is spent."""
    _, peer, company = rest
    budget = RequestBudget(limit=6)
    user = peer.user
    limited = RestPsa(
        PsaRestClient(peer.url, user.username, user.secret, user.integration_code, budget=budget)
    )
    writes = [ContactWrite(None, replace(ADA, email=f"b{n}@customer.example")) for n in range(9)]
    with pytest.raises(PsaThrottledError, match="hourly budget of 6"):
        limited.write_contacts(company, writes)
    assert budget.used == 6
    limited.close()


def test_the_demo_contacts_fill_the_fields_a_directory_syncs() -> None:
    """Middle names, departments and mobiles for some contacts, every contact at its
    company's office address; all of them active."""
    db = EmbeddedPsa(":memory:")
    seed_demo_psa(db, date(2026, 11, 24), size=DemoSize(resources=4, companies=20))
    try:
        companies = {company.id: company.address for company in db.companies()}
        contacts = [c for company in companies for c in db.company_contacts(company)]
        for name in ("middle_name", "department", "mobile_phone"):
            filled = sum(bool(getattr(contact.values, name)) for contact in contacts)
            assert 0 < filled < len(contacts), name
        for contact in contacts:
            values = contact.values
            assert companies[contact.company_id] == f"{values.street}, {values.city}"
            assert values.postal_code and values.state and values.country == "United States"
            assert contact.active
    finally:
        db.close()
