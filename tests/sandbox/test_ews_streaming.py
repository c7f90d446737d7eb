"""Streaming notifications of the EWS emulator, as Exchange serves them (issue 21).

Every answer here is also judged against the official schema by tests/conftest.py. What
Exchange does is from Microsoft's EWS reference: the GetStreamingEvents operation, "Handling
notification-related errors" and "Maintain affinity between a group of subscriptions and
the Mailbox server".
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from exchangelib import Account, EWSDateTime
from exchangelib.errors import ErrorSubscriptionNotFound

from engine.sandbox.ews import EwsEmulator, MailboxSpec, StreamingLimits
from engine.sandbox.ews.store import folder_id
from tests.sandbox.peer import (
    ALICE,
    SERVICE,
    impersonate,
    new_emulator,
    save_appointment,
    serving,
)

CAROL = "carol@contoso.example"
NINE = EWSDateTime.from_string("2026-12-07T09:00:00Z")
FAST = StreamingLimits(minute_seconds=0.6, keep_alive_seconds=0.15, idle_expiry_seconds=60)


@pytest.fixture
def emulator() -> Iterator[EwsEmulator]:
    emulator = new_emulator(streaming=FAST)
    emulator.add_mailbox(MailboxSpec(CAROL, "Carol Example"))
    with serving(emulator):
        yield emulator


@pytest.fixture
def alice(emulator: EwsEmulator) -> Account:
    """A pool of several sessions: one stream holds a session for its whole length."""
    return impersonate(emulator, max_connections=4)


def _soap(body: str, impersonated: str | None = ALICE) -> str:
    header = ""
    if impersonated:
        header = (
            "<t:ExchangeImpersonation><t:ConnectingSID>"
            f"<t:PrimarySmtpAddress>{impersonated}</t:PrimarySmtpAddress>"
            "</t:ConnectingSID></t:ExchangeImpersonation>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"'
        ' xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"'
        ' xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">'
        f'<s:Header><t:RequestServerVersion Version="Exchange2016"/>{header}</s:Header>'
        f"<s:Body>{body}</s:Body></s:Envelope>"
    )


def _subscribe(
    client: httpx.Client, emulator: EwsEmulator, mailbox: str, **headers: str
) -> tuple[str, httpx.Response]:
    body = (
        "<m:Subscribe><m:StreamingSubscriptionRequest><t:FolderIds>"
        '<t:DistinguishedFolderId Id="calendar"/></t:FolderIds>'
        "<t:EventTypes><t:EventType>CreatedEvent</t:EventType></t:EventTypes>"
        "</m:StreamingSubscriptionRequest></m:Subscribe>"
    )
    answer = client.post(emulator.url, content=_soap(body, mailbox), headers=headers)
    found = answer.text.split("<m:SubscriptionId>")
    return (found[1].split("<")[0] if len(found) > 1 else ""), answer


def _streaming_events(ids: list[str], minutes: int = 1) -> str:
    listed = "".join(f"<t:SubscriptionId>{value}</t:SubscriptionId>" for value in ids)
    return (
        f"<m:GetStreamingEvents><m:SubscriptionIds>{listed}</m:SubscriptionIds>"
        f"<m:ConnectionTimeout>{minutes}</m:ConnectionTimeout></m:GetStreamingEvents>"
    )


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(auth=SERVICE, timeout=10) as client:
        yield client


def _events_while(account: Account, subscription: str, change: Callable[[], None]) -> list[object]:
    """The events one stream of a minute carries while ``change()`` runs beside it (what
    happens before the stream is open waits in the subscription's queue)."""
    worker = threading.Thread(target=change)
    worker.start()
    events: list[object] = []
    try:
        for notification in account.calendar.get_streaming_events(subscription, 1):
            assert notification.subscription_id == subscription
            events += notification.events
    finally:
        worker.join()
    return events


def test_exchangelib_streams_the_calendar_events_of_another_client(
    emulator: EwsEmulator, alice: Account
) -> None:
    """exchangelib's own subscribe_to_streaming, get_streaming_events and unsubscribe: an
    appointment another client creates, changes and moves to Deleted Items arrives as a
    CreatedEvent, a ModifiedEvent and a MovedEvent with its id, time stamp and folders;
    after Unsubscribe the id is unknown (ErrorSubscriptionNotFound)."""
    other = impersonate(emulator)
    subscription = alice.calendar.subscribe_to_streaming()
    saved: list[str] = []

    def change() -> None:
        item = save_appointment(other, "Service call", NINE)
        saved.append(item.id)
        item.subject = "Service call (moved)"
        item.save(update_fields=["subject"])
        item.move_to_trash()

    started = time.monotonic()
    events = _events_while(alice, subscription, change)
    assert [type(event).__name__ for event in events] == [
        "CreatedEvent",
        "ModifiedEvent",
        "MovedEvent",
    ]
    assert {event.item_id.id for event in events} == set(saved)  # type: ignore[attr-defined]
    calendar, trash = folder_id(ALICE, "calendar"), folder_id(ALICE, "deleteditems")
    assert events[0].parent_folder_id.id == calendar  # type: ignore[attr-defined]
    moved = events[2]
    assert (moved.parent_folder_id.id, moved.old_parent_folder_id.id) == (trash, calendar)  # type: ignore[attr-defined]
    assert abs(time.time() - events[0].timestamp.timestamp()) < 60  # type: ignore[attr-defined]
    assert time.monotonic() - started >= FAST.minute_seconds, "open for its ConnectionTimeout"
    alice.calendar.unsubscribe(subscription)
    with pytest.raises(ErrorSubscriptionNotFound):
        list(alice.calendar.get_streaming_events(subscription, 1))


def _envelopes(answer: httpx.Response) -> list[str]:
    """The SOAP envelopes of a streamed answer, as they arrive."""
    found, pending = [], ""
    for text in answer.iter_text():
        pending += text
        while "</s:Envelope>" in pending:
            envelope, pending = pending.split("</s:Envelope>", 1)
            found.append(envelope)
    return found


def test_a_quiet_stream_keeps_alive_and_closes_at_its_connection_timeout(
    emulator: EwsEmulator, client: httpx.Client
) -> None:
    """One chunked HTTP answer: keep-alive envelopes (ConnectionStatus OK) while nothing
    happens, and a last one with ConnectionStatus Closed once ConnectionTimeout is over."""
    subscription, _ = _subscribe(client, emulator, ALICE)
    started = time.monotonic()
    request = _soap(_streaming_events([subscription]))
    with client.stream("POST", emulator.url, content=request) as answer:
        assert answer.headers["transfer-encoding"] == "chunked"
        envelopes = _envelopes(answer)
    assert time.monotonic() - started == pytest.approx(FAST.minute_seconds, abs=0.4)
    statuses = [envelope.split("<m:ConnectionStatus>")[1][:2] for envelope in envelopes]
    assert len(statuses) >= 2 and set(statuses[:-1]) == {"OK"} and statuses[-1] == "Cl"


def _refusal(answer: httpx.Response) -> str:
    assert "<m:ConnectionStatus>Closed</m:ConnectionStatus>" in answer.text
    return answer.text.split("<m:ResponseCode>")[1].split("<")[0]


def test_more_than_200_subscriptions_in_one_connection_are_refused(
    emulator: EwsEmulator, client: httpx.Client
) -> None:
    """Microsoft: at most 200 subscription ids in one GetStreamingEvents request."""
    ids = [f"id-{number}" for number in range(201)]
    answer = client.post(emulator.url, content=_soap(_streaming_events(ids)))
    assert _refusal(answer) == "ErrorInvalidRequest"
    assert "at most 200" in answer.text


def test_streaming_connections_of_one_account_are_capped(
    emulator: EwsEmulator, client: httpx.Client
) -> None:
    """Three streams at once per account charged (HangingConnectionLimit on premises);
    a fourth is ErrorExceededConnectionCount, unless it impersonates another mailbox of
    the group (its own budget), as Microsoft advises."""
    anchored = {"X-AnchorMailbox": ALICE}
    ids = [_subscribe(client, emulator, ALICE, **anchored)[0] for _ in range(4)]
    with ExitStack() as streams:
        for subscription in ids[:3]:
            request = _soap(_streaming_events([subscription]))
            streams.enter_context(client.stream("POST", emulator.url, content=request))
        refused = client.post(emulator.url, content=_soap(_streaming_events(ids[3:])))
        assert _refusal(refused) == "ErrorExceededConnectionCount"
        other = _soap(_streaming_events(ids[3:]), impersonated=CAROL)
        with client.stream("POST", emulator.url, content=other, headers=anchored) as answer:
            assert "ErrorExceeded" not in next(answer.iter_text())


def test_subscriptions_of_one_mailbox_are_capped(
    emulator: EwsEmulator, client: httpx.Client
) -> None:
    """EWSMaxSubscriptions: 20 live subscriptions per mailbox (Exchange Online's figure)."""
    for _ in range(20):
        assert _subscribe(client, emulator, ALICE)[0]
    subscription, answer = _subscribe(client, emulator, ALICE)
    assert not subscription
    assert "<m:ResponseCode>ErrorExceededSubscriptionCount</m:ResponseCode>" in answer.text


def test_an_idle_subscription_expires_and_ids_are_never_reused(
    emulator: EwsEmulator, client: httpx.Client
) -> None:
    """A subscription no connection carries for the expiry time is gone
    (ErrorSubscriptionNotFound); a new one gets a new id."""
    now = [0.0]
    emulator.notifications.clock = lambda: now[0]
    first, _ = _subscribe(client, emulator, ALICE)
    now[0] += FAST.idle_expiry_seconds
    answer = client.post(emulator.url, content=_soap(_streaming_events([first])))
    assert _refusal(answer) == "ErrorSubscriptionNotFound"
    assert f"<t:SubscriptionId>{first}</t:SubscriptionId>" in answer.text
    again = {_subscribe(client, emulator, ALICE)[0] for _ in range(10)}
    assert len(again) == 10 and first not in again


def test_affinity_groups_subscriptions_on_the_anchor_mailbox_server(
    emulator: EwsEmulator, client: httpx.Client
) -> None:
    """The anchor's Subscribe (X-AnchorMailbox, X-PreferServerAffinity) gets the
    X-BackEndOverrideCookie; the group's other subscriptions sent with it live on the same
    server and stream together. A subscription anchored elsewhere is not found by a request
    routed to this group's server (ErrorSubscriptionNotFound, naming it only)."""
    affinity = {"X-AnchorMailbox": ALICE, "X-PreferServerAffinity": "true"}
    alices, answer = _subscribe(client, emulator, ALICE, **affinity)
    cookie = answer.cookies["X-BackEndOverrideCookie"]
    grouped = {**affinity, "Cookie": f"X-BackEndOverrideCookie={cookie}"}
    carols, answer = _subscribe(client, emulator, CAROL, **grouped)
    assert "set-cookie" not in answer.headers
    alone, _ = _subscribe(client, emulator, CAROL, **{"X-AnchorMailbox": CAROL})

    together = _soap(_streaming_events([alices, carols]))
    with client.stream("POST", emulator.url, content=together, headers=grouped) as answer:
        assert "<m:ConnectionStatus>OK" in next(answer.iter_text())
    mixed = client.post(
        emulator.url, content=_soap(_streaming_events([alices, alone])), headers=grouped
    )
    assert _refusal(mixed) == "ErrorSubscriptionNotFound"
    refused = mixed.text.split("<m:ErrorSubscriptionIds>")[1]
    assert alone in refused and alices not in refused


def test_what_the_emulator_does_not_implement_is_refused_by_name(
    emulator: EwsEmulator, client: httpx.Client
) -> None:
    """Pull and push subscriptions are not implemented: a SOAP fault that says so."""
    body = (
        "<m:Subscribe><m:PullSubscriptionRequest><t:FolderIds>"
        '<t:DistinguishedFolderId Id="calendar"/></t:FolderIds>'
        "<t:EventTypes><t:EventType>CreatedEvent</t:EventType></t:EventTypes>"
        "<t:Timeout>10</t:Timeout></m:PullSubscriptionRequest></m:Subscribe>"
    )
    answer = client.post(emulator.url, content=_soap(body))
    assert answer.status_code == 500
    assert "does not implement Subscribe with PullSubscriptionRequest" in answer.text


def test_stopping_the_emulator_drops_its_open_streams(client: httpx.Client) -> None:
    """A stream does not keep a stopping emulator (or its store) alive."""
    emulator = new_emulator(streaming=StreamingLimits(keep_alive_seconds=60))
    emulator.start()
    subscription, _ = _subscribe(client, emulator, ALICE)
    request = _soap(_streaming_events([subscription], minutes=30))
    with client.stream("POST", emulator.url, content=request) as answer:
        started = time.monotonic()
        emulator.stop()
        with pytest.raises(httpx.HTTPError):
            answer.read()
    assert time.monotonic() - started < 2


def test_a_sandbox_database_written_before_streaming_is_streamed_from(
    tmp_path: Path, client: httpx.Client
) -> None:
    """A profile's sandbox database from before the change log kept times and moves gets
    those columns when opened, and its mailboxes stream."""
    path = tmp_path / "sandbox.sqlite"
    with sqlite3.connect(path) as old:
        old.executescript(
            "CREATE TABLE changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, mailbox TEXT NOT NULL,"
            " folder TEXT NOT NULL, item_id TEXT NOT NULL, kind TEXT NOT NULL);"
            "INSERT INTO changes(mailbox, folder, item_id, kind)"
            " VALUES ('alice@contoso.example', 'calendar', 'old', 'create');"
        )
    with serving(new_emulator(db_path=path, streaming=FAST)) as emulator:
        subscription, _ = _subscribe(client, emulator, ALICE)
        save_appointment(impersonate(emulator), "After the upgrade", NINE)
        request = _soap(_streaming_events([subscription]))
        with client.stream("POST", emulator.url, content=request) as answer:
            streamed = "".join(_envelopes(answer))
    assert streamed.count("<t:CreatedEvent>") == 1
