"""exchangelib, used directly as an administrator would, against the loopback EWS emulator."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from exchangelib import (
    UTC,
    Account,
    CalendarItem,
    Configuration,
    Contact,
    Credentials,
    EWSDate,
    EWSDateTime,
    ExtendedProperty,
    FaultTolerance,
    Message,
    Task,
)
from exchangelib import errors as ews_errors
from exchangelib.indexed_properties import EmailAddress, PhoneNumber
from exchangelib.items import NEVER_OVERWRITE
from exchangelib.protocol import BaseProtocol, close_connections
from exchangelib.recurrence import Recurrence, WeeklyPattern

from engine.sandbox.ews import EwsEmulator, FaultKind
from tests.sandbox.peer import ALICE, BOB, SERVICE, config, impersonate, new_emulator

START = EWSDateTime(2026, 11, 25, 10, tzinfo=UTC)


class Marker(ExtendedProperty):
    property_set_id = "a1b2c3d4-0000-4000-8000-000000000001"
    property_name = "testMarker"
    property_type = "String"


@pytest.fixture(autouse=True, scope="module")
def registered_marker():
    CalendarItem.register("marker", Marker)
    yield
    CalendarItem.deregister("marker")


def appointment(
    account: Account, subject: str = "Review", hours: int = 0, **fields: object
) -> CalendarItem:
    start = START + timedelta(hours=hours)
    return CalendarItem(
        account=account,
        folder=account.calendar,
        subject=subject,
        start=start,
        end=start + timedelta(hours=1),
        **fields,
    )


def test_calendar_items_round_trip(alice: Account, emulator: EwsEmulator) -> None:
    """Create, find, filter, update and delete calendar items: single, all-day, private, with
    categories; the change key changes on every update."""
    item = appointment(alice, "Review", categories=["PSA"], location="Room 1")
    item.save()
    private = appointment(alice, "Doctor", hours=3, sensitivity="Private")
    private.save()
    day = EWSDate(2026, 11, 27)
    CalendarItem(
        account=alice,
        folder=alice.calendar,
        subject="Conference",
        is_all_day=True,
        start=day,
        end=day + timedelta(days=1),
    ).save()
    found = {i.subject: i for i in alice.calendar.all()}
    assert set(found) == {"Review", "Doctor", "Conference"}
    assert found["Review"].categories == ["PSA"] and found["Review"].location == "Room 1"
    assert found["Doctor"].sensitivity == "Private"
    assert found["Conference"].is_all_day is True
    assert [i.subject for i in alice.calendar.filter(subject="Doctor")] == ["Doctor"]
    before = item.changekey
    item.subject = "Review (moved)"
    item.save(update_fields=["subject"])
    assert item.changekey != before
    assert alice.calendar.get(subject="Review (moved)").id == item.id
    item.delete()
    assert "Review (moved)" not in {i.subject for i in alice.calendar.all()}


def test_recurring_series_expand_in_calendar_view(alice: Account) -> None:
    """A weekly series is one master; a CalendarView returns its occurrences in the window."""
    master = appointment(
        alice,
        "Standup",
        recurrence=Recurrence(
            pattern=WeeklyPattern(interval=1, weekdays=[3]), start=EWSDate(2026, 11, 25), number=6
        ),
    )
    master.save()
    (stored,) = list(alice.calendar.all())
    assert stored.type == "RecurringMaster"
    view = list(
        alice.calendar.view(start=START - timedelta(days=1), end=START + timedelta(days=15))
    )
    assert [o.start.date().isoformat() for o in view] == ["2026-11-25", "2026-12-02", "2026-12-09"]
    assert {o.type for o in view} == {"Occurrence"} and {o.uid for o in view} == {stored.uid}


def test_one_occurrence_changed_or_deleted_becomes_an_exception(alice: Account) -> None:
    """An occurrence saved on its own (exchangelib's occurrence.save()) is an Exception that
    keeps its OriginalStart and shows in the master's ModifiedOccurrences; one deleted on
    its own leaves the view and shows in DeletedOccurrences; a recurrence on one occurrence
    is refused, naming it."""
    master = appointment(
        alice,
        "Standup",
        recurrence=Recurrence(
            pattern=WeeklyPattern(interval=1, weekdays=[3]), start=EWSDate(2026, 11, 25), number=6
        ),
    )
    master.save()
    window = (START - timedelta(days=1), START + timedelta(days=22))
    first, second, third, _ = list(alice.calendar.view(*window))
    second.start += timedelta(hours=2)
    second.end += timedelta(hours=2)
    second.subject = "Standup (late)"
    second.save(update_fields=["start", "end", "subject"])
    third.delete()
    view = list(alice.calendar.view(*window).only("subject", "start", "type", "original_start"))
    assert [(o.subject, o.type) for o in view] == [
        ("Standup", "Occurrence"),
        ("Standup (late)", "Exception"),
        ("Standup", "Occurrence"),
    ]
    assert view[1].start == START + timedelta(days=7, hours=2)
    assert view[1].original_start == START + timedelta(days=7)
    assert view[1].id == second.id and view[0].id == first.id
    master.refresh()
    (modified,) = master.modified_occurrences
    assert modified.original_start == START + timedelta(days=7)
    assert [d.start for d in master.deleted_occurrences] == [START + timedelta(days=14)]
    view[0].recurrence = master.recurrence
    with pytest.raises(ews_errors.ErrorInvalidOperation, match="recurrence on one occurrence"):
        view[0].save(update_fields=["recurrence"])


def test_contacts_and_tasks(alice: Account) -> None:
    """Contacts with e-mail addresses and phone numbers, and tasks, round-trip."""
    contact = Contact(
        account=alice,
        folder=alice.contacts,
        given_name="Nora",
        surname="Weber",
        display_name="Nora Weber",
        company_name="Alpine Dental",
        email_addresses=[EmailAddress(email="nora@customer.example", label="EmailAddress1")],
        phone_numbers=[PhoneNumber(label="BusinessPhone", phone_number="+1 555 0100")],
    )
    contact.save()
    (found,) = list(alice.contacts.all())
    assert found.email_addresses[0].email == "nora@customer.example"
    assert found.phone_numbers[0].phone_number == "+1 555 0100"
    found.email_addresses = [EmailAddress(email="nora@new.example", label="EmailAddress1")]
    found.save(update_fields=["email_addresses"])
    assert next(iter(alice.contacts.all())).email_addresses[0].email == "nora@new.example"
    Task(
        account=alice, folder=alice.tasks, subject="Call back", due_date=EWSDate(2026, 11, 30)
    ).save()
    assert [t.subject for t in alice.tasks.all()] == ["Call back"]


def test_extended_property_round_trips_and_filters(alice: Account) -> None:
    appointment(alice, "Stamped", marker="appointment:17").save()
    appointment(alice, "Plain", hours=2).save()
    assert [i.subject for i in alice.calendar.filter(marker="appointment:17")] == ["Stamped"]
    assert alice.calendar.get(subject="Stamped").marker == "appointment:17"


def test_bulk_calls_return_per_item_errors(alice: Account) -> None:
    """A stale change key with NeverOverwrite is a conflict (exchangelib raises it); bulk_delete
    of a missing item returns the error in its result list."""
    pair = [appointment(alice, "A"), appointment(alice, "B", hours=1)]
    created = alice.bulk_create(folder=alice.calendar, items=pair)
    (first_id, first_key), (second_id, _) = [(c.id, c.changekey) for c in created]
    item = alice.calendar.get(id=first_id)
    item.subject = "A2"
    item.save(update_fields=["subject"])
    stale = CalendarItem(account=alice, id=first_id, changekey=first_key, subject="A3")
    with pytest.raises(ews_errors.ErrorIrresolvableConflict):
        alice.bulk_update(items=[(stale, ["subject"])], conflict_resolution=NEVER_OVERWRITE)
    results = alice.bulk_delete(ids=[(second_id, None), ("AAAAmissing", None)])
    assert results[0] is True and isinstance(results[1], ews_errors.ErrorItemNotFound)


def test_sync_items_pages_and_reports_each_change_once(alice: Account) -> None:
    """SyncFolderItems: an initial sync in pages, then only what changed since the state."""
    for number in range(7):
        appointment(alice, f"Item {number}", hours=number).save()
    first = list(alice.calendar.sync_items(max_changes_returned=3))
    assert len(first) == 7 and {kind for kind, _ in first} == {"create"}
    state = alice.calendar.item_sync_state
    items = {i.subject: i for i in alice.calendar.all()}
    items["Item 1"].subject = "Item 1b"
    items["Item 1"].save(update_fields=["subject"])
    items["Item 2"].delete()
    appointment(alice, "Item 8").save()
    changes = list(alice.calendar.sync_items(sync_state=state, max_changes_returned=2))
    kinds = sorted((kind, getattr(item, "subject", None)) for kind, item in changes)
    assert kinds == [("create", "Item 8"), ("delete", None), ("update", "Item 1b")]
    assert list(alice.calendar.sync_items()) == []


def test_invalid_sync_state_is_refused(alice: Account) -> None:
    with pytest.raises(ews_errors.ErrorInvalidSyncStateData):
        list(alice.calendar.sync_items(sync_state="bm90IG91cnM="))


def test_impersonation_only_of_granted_mailboxes(emulator: EwsEmulator) -> None:
    """R14: the service account may impersonate only the mailboxes it was granted."""
    bob = impersonate(emulator, BOB)
    with pytest.raises(ews_errors.ErrorImpersonateUserDenied):
        list(bob.calendar.all())
    nobody = impersonate(emulator, "nobody@contoso.example")
    with pytest.raises(ews_errors.ErrorNonExistentMailbox):
        list(nobody.calendar.all())
    emulator.grant(BOB)
    assert list(impersonate(emulator, BOB).calendar.all()) == []


def test_wrong_password_is_refused(emulator: EwsEmulator) -> None:
    bad = Configuration(
        service_endpoint=emulator.url,
        credentials=Credentials(SERVICE[0], "no"),
        auth_type="basic",
        version=config(emulator).version,
    )
    account = Account(
        ALICE, config=bad, autodiscover=False, access_type="impersonation", default_timezone=UTC
    )
    with pytest.raises(ews_errors.UnauthorizedError):
        account.calendar.refresh()


def test_owner_logs_in_to_own_mailbox_only(emulator: EwsEmulator) -> None:
    """A person uses their own mailbox without impersonation, and nobody else's."""
    own = Configuration(
        service_endpoint=emulator.url,
        credentials=Credentials(BOB, "bob-pass"),
        auth_type="basic",
        version=config(emulator).version,
    )
    bob = Account(BOB, config=own, autodiscover=False, access_type="delegate", default_timezone=UTC)
    appointment(bob, "Mine").save()
    assert [i.subject for i in bob.calendar.all()] == ["Mine"]
    other = Account(
        ALICE, config=own, autodiscover=False, access_type="delegate", default_timezone=UTC
    )
    with pytest.raises(ews_errors.ErrorAccessDenied):
        list(other.calendar.all())


def test_probes_for_auth_type_and_version(emulator: EwsEmulator) -> None:
    """With nothing but URL and credentials, exchangelib probes the auth type and the version."""
    bare = Configuration(service_endpoint=emulator.url, credentials=Credentials(*SERVICE))
    account = Account(
        ALICE, config=bare, autodiscover=False, access_type="impersonation", default_timezone=UTC
    )
    assert account.version.build.major_version == 15
    assert list(account.calendar.all()) == []


def test_unimplemented_operations_are_named(alice: Account) -> None:
    """Never a silent success: an operation the emulator lacks is an error naming it."""
    with pytest.raises(
        ews_errors.EWSError, match="does not implement the operation GetUserOofSettings"
    ):
        alice.oof_settings  # noqa: B018 - the property makes the request


@pytest.mark.parametrize("kind", [FaultKind.BUSY, FaultKind.HTTP500, FaultKind.SLOW])
def test_transient_faults_are_retried_by_exchangelib(
    emulator: EwsEmulator, kind: FaultKind, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Busy (with BackOffMilliseconds), 500, resets and slow answers are what a real server does;
    exchangelib's FaultTolerance rides them out."""
    monkeypatch.setattr(BaseProtocol, "RETRY_WAIT", 1)
    account = impersonate(emulator, retry_policy=FaultTolerance(max_wait=10), max_connections=4)
    emulator.faults.set(kind, count=2, back_off_ms=100, delay_ms=200)
    appointment(account, "Despite faults").save()
    assert [i.subject for i in account.calendar.all()] == ["Despite faults"]
    assert emulator.faults.injected[kind.value] == 2


def test_a_reset_reaches_exchangelib_as_a_transport_error(emulator: EwsEmulator) -> None:
    """A dropped connection is what exchangelib sees from a real server: with one pooled
    session it does not retry (the engine's adapter does)."""
    account = impersonate(emulator)
    emulator.faults.set(FaultKind.RESET, count=1)
    with pytest.raises(ews_errors.ErrorTimeoutExpired):
        list(account.calendar.all())
    assert list(account.calendar.all()) == []


def test_busy_without_patience_fails_fast(emulator: EwsEmulator) -> None:
    account = impersonate(emulator)
    emulator.faults.set(FaultKind.BUSY, count=1, back_off_ms=250)
    with pytest.raises(ews_errors.ErrorServerBusy) as caught:
        list(account.calendar.all())
    assert caught.value.back_off == 0.25


def test_expired_sync_state_fault(alice: Account, emulator: EwsEmulator) -> None:
    emulator.faults.set(FaultKind.EXPIRED_SYNC_STATE, count=1)
    with pytest.raises(ews_errors.ErrorInvalidSyncStateData):
        list(alice.calendar.sync_items())
    assert list(alice.calendar.sync_items()) == []


def test_mailboxes_persist_in_a_file(tmp_path: Path) -> None:
    path = tmp_path / "mailboxes.sqlite"
    first = new_emulator(db_path=path)
    first.start()
    appointment(impersonate(first), "Kept").save()
    close_connections()
    first.stop()
    second = EwsEmulator(db_path=path, service_account=SERVICE)
    second.start()
    try:
        assert [i.subject for i in impersonate(second).calendar.all()] == ["Kept"]
        assert dict(second.mailboxes()) == {ALICE: True, BOB: False}
    finally:
        close_connections()
        second.stop()


def test_sent_messages_are_recorded(emulator: EwsEmulator) -> None:
    """A message the service account sends (error notifications, R18) is recorded."""
    own = Account(
        SERVICE[0],
        config=config(emulator),
        autodiscover=False,
        access_type="delegate",
        default_timezone=UTC,
    )
    Message(
        account=own, subject="Sync errors", body="Details", to_recipients=["it@contoso.example"]
    ).send()
    (sent,) = emulator.sent_messages()
    assert sent["to"] == ["it@contoso.example"] and sent["subject"] == "Sync errors"


def test_counters_count_requests(alice: Account, emulator: EwsEmulator) -> None:
    emulator.stats.reset()
    list(alice.calendar.sync_items())
    snapshot = emulator.stats.snapshot()
    assert snapshot["by_operation"]["SyncFolderItems"] == 1
    assert snapshot["by_mailbox"][ALICE] == snapshot["total"]
