"""Whole syncs through exchangelib against the EWS emulator: every rule, end to end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from exchangelib import Contact
from exchangelib.protocol import close_connections

from engine.exchange.projection import PRIVATE_TITLE
from engine.profile import Profile
from engine.psa.model import RecordKind
from engine.settings.model import ContactScope
from tests.e2e.harness import AVA, BEN, CHLOE, Harness, stamp_key


@pytest.fixture(
    params=[("ews", "embedded"), ("ews", "rest"), ("graph", "embedded"), ("graph", "rest")],
    ids=lambda param: "-".join(param),
)
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """Every rule below holds over EWS and over Microsoft Graph (R19), with the embedded
    PSA and with the PSA's REST API."""
    api, psa = request.param
    harness = Harness.create(psa=psa, api=api)
    yield harness
    close_connections()
    harness.close()


def changes(result) -> tuple[int, int, int]:
    totals = result.totals
    return totals["created"], totals["updated"], totals["deleted"]


def psa_key_items(harness: Harness, address: str, prefix: str) -> dict[str, dict]:
    found = harness.stamped(address)
    assert all(len(copies) == 1 for copies in found.values()), "a duplicate"
    return {key: copies[0] for key, copies in found.items() if key.startswith(prefix)}


def test_first_run_creates_and_second_run_changes_nothing(harness: Harness) -> None:
    """R04, R09, R15: `msext sync --once --json` creates items; a second run right after
    reports created, updated and deleted all 0; the denied mailbox is one user's error."""
    first = harness.cli("sync", "--once", "--json")
    data = json.loads(first.stdout)
    assert data["created"] > 50 and data["errors"] == 1 and first.returncode == 1
    (failed,) = [user for user in data["users"] if user["outcome"] == "error"]
    assert failed["mailbox"] == CHLOE and "R14" in failed["message"]
    second = json.loads(harness.cli("sync", "--once", "--json").stdout)
    assert (second["created"], second["updated"], second["deleted"]) == (0, 0, 0)
    assert {
        key: type(value)
        for key, value in second.items()
        if key in ("created", "updated", "deleted", "skipped", "errors")
    } == dict.fromkeys(("created", "updated", "deleted", "skipped", "errors"), int)


def test_psa_edits_and_deletions_reach_the_mailbox(harness: Harness) -> None:
    """R04: changed PSA records update their item, deleted ones delete it, new ones appear."""
    harness.settled()
    items = psa_key_items(harness, AVA, "appointment:")
    key = sorted(items)[0]
    psa = harness.psa()
    psa.update(RecordKind.APPOINTMENT, int(key.split(":")[1]), title="Renamed in the PSA")
    gone = sorted(items)[1]
    psa.delete(RecordKind.APPOINTMENT, int(gone.split(":")[1]))
    start = datetime.now(UTC).replace(microsecond=0, second=0) + timedelta(days=2)
    new = psa.insert(
        "appointments",
        resource_id=1,
        title="Brand new",
        description="",
        start=start,
        end=start + timedelta(hours=1),
    )
    psa.close()
    result = harness.sync(AVA)
    assert changes(result) == (1, 1, 1)
    after = psa_key_items(harness, AVA, "appointment:")
    assert after[key]["subject"] == "Renamed in the PSA"
    assert gone not in after and f"appointment:{new}" in after


def test_outlook_time_change_moves_the_psa_appointment(harness: Harness) -> None:
    """R16: a PSA appointment moved in Outlook is moved in the PSA."""
    harness.settled()
    key, _ = sorted(psa_key_items(harness, AVA, "appointment:").items())[0]
    account = harness.outlook(AVA)
    item = next(i for i in account.calendar.all() if stamp_key(i) == key)
    item.start += timedelta(days=1)
    item.end += timedelta(days=1)
    item.save(update_fields=["start", "end"])
    harness.sync(AVA)
    psa = harness.psa()
    around = (item.start - timedelta(days=1), item.end + timedelta(days=1))
    (record,) = [r for r in psa.calendar_records(1, *around) if r.key == key]
    psa.close()
    assert record.start == datetime.fromtimestamp(item.start.timestamp(), UTC)
    assert changes(harness.sync(AVA)) == (0, 0, 0)


def test_outlook_subject_change_and_deletion_do_not_flow_back(harness: Harness) -> None:
    """R17: a retitled PSA item is overwritten from the PSA; a deleted one is recreated."""
    harness.settled()
    items = sorted(psa_key_items(harness, AVA, "appointment:"))
    account = harness.outlook(AVA)
    by_key = {stamp_key(i): i for i in account.calendar.all()}
    retitled, deleted = by_key[items[0]], by_key[items[1]]
    original = retitled.subject
    retitled.subject = "My own title"
    retitled.save(update_fields=["subject"])
    deleted.delete()
    result = harness.sync(AVA)
    assert changes(result)[:2] == (1, 1)
    after = psa_key_items(harness, AVA, "appointment:")
    assert after[items[0]]["subject"] == original and items[1] in after


def test_person_appointments_reach_the_psa_masked_and_as_singles(harness: Harness) -> None:
    """R04, R05, R06, R10: the demo mailboxes' own appointments arrive in the PSA: private ones
    as "Appointment" without details, details with the body, series as single appointments
    without a series link."""
    harness.settled()
    rows = harness.imported()
    titles = {row["title"] for row in rows}
    assert {"Lunch with Harbor Logistics", PRIVATE_TITLE, "Focus time"} <= titles
    assert "Dentist" not in titles and not any("Root canal" in row["description"] for row in rows)
    lunch = next(row for row in rows if row["title"] == "Lunch with Harbor Logistics")
    assert lunch["description"] == "Location: Harbor Road 12\n\nBring the signed quote."
    series = [row for row in rows if row["title"] == "Product team sync"]
    assert len(series) >= 2 and all(row["series_id"] is None for row in series)
    assert all("@" in row["origin_key"] for row in series)


def test_import_without_details_and_off(harness: Harness) -> None:
    """R06: without details only title and times arrive; with import off nothing new arrives."""
    harness.set("exchange.sync.import_appointments", "without_details")
    harness.settled()
    lunch = [row for row in harness.imported() if row["title"] == "Lunch with Harbor Logistics"]
    assert lunch and {row["description"] for row in lunch} == {""}
    harness.set("exchange.sync.import_appointments", "off")
    harness.person_appointment(AVA, "Not imported", 2, 15)
    harness.settled()
    psa = harness.psa()
    assert not psa._rows("SELECT 1 FROM appointments WHERE title = 'Not imported'")
    psa.close()


def test_person_changes_and_deletion_of_their_appointment(harness: Harness) -> None:
    """R04, R16: a person's appointment edited in Outlook updates the PSA; moved in the PSA it
    moves in Outlook; deleted in Outlook it leaves the PSA."""
    item = harness.person_appointment(AVA, "Workshop", 3, 10)
    harness.settled()
    item.subject = "Workshop (room 2)"
    item.save(update_fields=["subject"])
    harness.sync(AVA)
    psa = harness.psa()
    (row,) = psa._rows("SELECT * FROM appointments WHERE title = 'Workshop (room 2)'")
    moved = datetime.fromtimestamp(row["start"], UTC) + timedelta(hours=2)
    psa.update(RecordKind.APPOINTMENT, row["id"], start=moved, end=moved + timedelta(hours=1))
    psa.close()
    harness.sync(AVA)
    item.refresh()
    assert item.start == moved and item.subject == "Workshop (room 2)"
    item.delete()
    harness.sync(AVA)
    psa = harness.psa()
    assert not psa._rows("SELECT 1 FROM appointments WHERE id = ?", (row["id"],))
    psa.close()


def test_contacts_only_from_the_psa_in_scope(harness: Harness) -> None:
    """R07, R08: the mailbox gets the owned contacts; a person's own contact never reaches the
    PSA; with scope "all" every contact arrives."""
    harness.settled()
    psa = harness.psa()
    owned = {contact.key for contact in psa.contacts(1, ContactScope.OWNED)}
    everyone = psa.counts()["contacts"]
    psa.close()
    assert set(harness.stamped(AVA, "contacts")) == owned
    account = harness.outlook(AVA)
    Contact(
        account=account,
        folder=account.contacts,
        given_name="Private",
        surname="Friend",
        display_name="Private Friend",
    ).save()
    harness.set("exchange.sync.contact_scope", "all")
    harness.settled()
    assert len(harness.stamped(AVA, "contacts")) == everyone
    psa = harness.psa()
    assert not psa._rows("SELECT 1 FROM contacts WHERE last_name = 'Friend'")
    psa.close()


def test_an_inactive_contact_leaves_the_mailboxes_and_returns_when_reactivated(
    harness: Harness,
) -> None:
    """R07: only active PSA contacts are shared: one made inactive (by hand, or by AD Sync
    when its person left the customer's directory) leaves the mailbox, and comes back when
    it is active again."""
    harness.settled()
    key = sorted(harness.stamped(AVA, "contacts"))[0]
    contact_id = int(key.partition(":")[2])
    psa = harness.psa()
    psa.update(RecordKind.CONTACT, contact_id, active=0)
    psa.close()
    harness.settled()
    assert key not in harness.stamped(AVA, "contacts")
    psa = harness.psa()
    psa.update(RecordKind.CONTACT, contact_id, active=1)
    psa.close()
    harness.settled()
    assert key in harness.stamped(AVA, "contacts")


def test_clearing_share_contacts_removes_them(harness: Harness) -> None:
    """R12 remedy, engine side: with sharing cleared the engine's contacts leave the mailbox."""
    harness.settled()
    assert harness.stamped(BEN, "contacts")
    harness.set("exchange.sync.share_contacts", "false")
    harness.set("exchange.sync.max_delete_percent", "100")
    harness.settled()
    assert harness.stamped(BEN, "contacts") == {}


def test_office365_mailboxes_are_reached_through_ews_with_oauth2(harness: Harness) -> None:
    """R19: an Office 365 tenant through EWS: the client-credentials token comes from the
    token endpoint, every request carries it, and the sync runs as with basic auth."""
    harness.set("sandbox.enabled", "true")
    for key, value in (
        ("exchange.general.server_type", "office365"),
        ("exchange.general.oauth_client_id", "11111111-2222-3333-4444-555555555555"),
        ("exchange.general.oauth_tenant_id", "contoso.onmicrosoft.com"),
        ("exchange.general.auth_type", "oauth2"),
    ):
        harness.set(key, value)
    result = harness.sync(AVA)
    (ava,) = result.users
    assert ava.outcome == "ok" and ava.totals["created"] > 0
    assert harness.stamped(AVA), "the items are in Ava's mailbox"


def test_a_psa_record_ending_before_it_starts_is_that_items_error(harness: Harness) -> None:
    """One PSA appointment that ends before it starts is that item's error, on every run,
    recorded with its key in the user's events; the user's other changes still go on (over
    EWS, exchangelib refused the whole chunk and the user stopped on every run)."""
    harness.settled()
    start = datetime.now(UTC).replace(microsecond=0, second=0) + timedelta(days=2)
    psa = harness.psa()
    bad = psa.insert(
        "appointments",
        resource_id=1,
        title="Ends before it starts",
        description="",
        start=start,
        end=start - timedelta(hours=1),
    )
    psa.close()
    for day in (3, 4):
        psa = harness.psa()
        good = psa.insert(
            "appointments",
            resource_id=1,
            title=f"Fine on day {day}",
            description="",
            start=start + timedelta(days=day),
            end=start + timedelta(days=day, hours=1),
        )
        psa.close()
        (ava,) = harness.sync(AVA).users
        assert (ava.outcome, ava.errors, ava.mailbox_counts["created"]) == ("ok", 1, 1)
        stamped = harness.stamped(AVA)
        assert f"appointment:{good}" in stamped and f"appointment:{bad}" not in stamped
    profile = Profile(harness.paths)
    try:
        failed = profile.state.failed_items(ava.user_id)
    finally:
        profile.close()
    assert {event.key for event in failed} == {f"appointment:{bad}"} and failed[0].error
