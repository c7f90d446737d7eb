"""The Graph emulator through httpx, over its socket, beside exchangelib on the same store."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from exchangelib import UTC, Account, CalendarItem, Contact, EWSDate, EWSDateTime, ExtendedProperty
from exchangelib.protocol import close_connections
from exchangelib.recurrence import Recurrence, WeeklyPattern

from engine.graph.assertion import ASSERTION_TYPE, client_assertion
from engine.sandbox.ews import EwsEmulator, MailboxSpec
from engine.sandbox.ews.store import folder_id
from engine.sandbox.graph import GraphEmulator
from tests.certificate import self_signed
from tests.sandbox.peer import ALICE, BOB, impersonate, new_emulator, save_appointment

TENANT = "0b7e5c1a-3f4d-4e2a-9c8b-1d2e3f4a5b6c"
CLIENT = "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"
SECRET = "graph~S3cret"
GUID = "7f3c1d52-9a4e-4b7e-8a61-5d2c0e9b4f17"
STAMP_ID = f"String {{{GUID}}} Name msextPsaRecord"
CAROL = "carol@contoso.example"
WINDOW = {"startDateTime": "2026-11-23T00:00:00Z", "endDateTime": "2026-12-07T00:00:00Z"}
START = EWSDateTime(2026, 11, 25, 10, tzinfo=UTC)
TEXT_BODY = {"Prefer": 'outlook.body-content-type="text"'}


class Stamp(ExtendedProperty):
    property_set_id = GUID
    property_name = "msextPsaRecord"
    property_type = "String"


@pytest.fixture(autouse=True, scope="module")
def registered_stamp() -> Iterator[None]:
    for model in (CalendarItem, Contact):
        model.register("graph_test_stamp", Stamp)
    yield
    for model in (CalendarItem, Contact):
        model.deregister("graph_test_stamp")


@pytest.fixture
def emulator() -> Iterator[EwsEmulator]:
    """The EWS emulator owning the store; it serves only once a test asks for ``alice``."""
    emulator = new_emulator()
    emulator.add_mailbox(MailboxSpec(CAROL, "Carol Example"))
    yield emulator
    close_connections()
    emulator.stop()


@pytest.fixture
def alice(emulator: EwsEmulator) -> Account:
    emulator.start()
    return impersonate(emulator)


@pytest.fixture
def graph(emulator: EwsEmulator) -> Iterator[GraphEmulator]:
    peer = GraphEmulator(emulator.store, TENANT, CLIENT, SECRET)
    peer.start()
    yield peer
    peer.stop()


def token(graph: GraphEmulator, **changes: str) -> httpx.Response:
    form = {
        "grant_type": "client_credentials",
        "client_id": CLIENT,
        "client_secret": SECRET,
        "scope": "https://graph.microsoft.com/.default",
        **changes,
    }
    return httpx.post(graph.token_url, data=form)


@pytest.fixture
def api(graph: GraphEmulator) -> Iterator[httpx.Client]:
    bearer = token(graph).json()["access_token"]
    with httpx.Client(base_url=graph.url, headers={"Authorization": f"Bearer {bearer}"}) as client:
        yield client


def event(subject: str, day: int = 25, hour: int = 10, **fields: Any) -> dict[str, Any]:
    start = f"2026-11-{day:02d}T{hour:02d}:00:00"
    end = f"2026-11-{day:02d}T{hour + 1:02d}:00:00"
    return {
        "subject": subject,
        "start": {"dateTime": start, "timeZone": "UTC"},
        "end": {"dateTime": end, "timeZone": "UTC"},
        **fields,
    }


def create(api: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(f"/users/{ALICE}/events", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def delta_round(
    api: httpx.Client, url: str, page_size: int = 100, **params: str
) -> tuple[list[list[dict[str, Any]]], str]:
    """Every page of a round (their values), and the round's deltaLink."""
    pages = []
    headers = {"Prefer": f"odata.maxpagesize={page_size}"}
    answer = api.get(url, params=params, headers=headers).json()
    pages.append(answer["value"])
    while "@odata.nextLink" in answer:
        answer = api.get(answer["@odata.nextLink"], headers=headers).json()
        pages.append(answer["value"])
    return pages, answer["@odata.deltaLink"]


def calendar_round(api: httpx.Client) -> tuple[list[dict[str, Any]], str]:
    pages, link = delta_round(api, f"/users/{ALICE}/calendarView/delta", **WINDOW)
    return [entry for page in pages for entry in page], link


def error_of(response: httpx.Response) -> tuple[int, str, str]:
    found = response.json()["error"]
    return response.status_code, found["code"], found["message"]


def appointment(account: Account, subject: str, hours: int = 0, **fields: Any) -> CalendarItem:
    return save_appointment(account, subject, START + timedelta(hours=hours), **fields)


def graph_id(ews_id: str) -> str:
    """Exchange's REST spelling of an EWS id (Outlook's convertToRestId)."""
    return ews_id.replace("/", "-").replace("+", "_")


# -- the token endpoint and authentication -------------------------------------------------


def test_token_endpoint_issues_a_bearer_token(graph: GraphEmulator) -> None:
    response = token(graph)
    answer = response.json()
    assert response.status_code == 200 and answer["token_type"] == "Bearer"
    assert answer["expires_in"] == answer["ext_expires_in"] == 3599 and answer["access_token"]
    assert graph.token_url.endswith(f"/{TENANT}/oauth2/v2.0/token")


@pytest.mark.parametrize(
    ("changes", "status", "error", "code"),
    [
        (
            {"client_id": "00000000-0000-0000-0000-000000000000"},
            400,
            "unauthorized_client",
            "AADSTS700016",
        ),
        ({"client_secret": "wrong"}, 401, "invalid_client", "AADSTS7000215"),
        ({"grant_type": "password"}, 400, "invalid_request", "AADSTS70003"),
        (
            {"scope": "https://graph.microsoft.com/Calendars.ReadWrite"},
            400,
            "invalid_scope",
            "AADSTS1002012",
        ),
    ],
)
def test_token_endpoint_refusals(
    graph: GraphEmulator, changes: dict[str, str], status: int, error: str, code: str
) -> None:
    response = token(graph, **changes)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.json()["error_description"].startswith(f"{code}:")


def test_a_certificate_proves_the_app_with_a_signed_assertion(emulator: EwsEmulator) -> None:
    """R19: an app registration with an uploaded certificate gets its token for an assertion
    signed by that certificate's key; another certificate's is refused with AADSTS700027."""
    pem, certificate = self_signed()
    other, _ = self_signed("someone else")
    with GraphEmulator(emulator.store, TENANT, CLIENT, SECRET, certificate=certificate) as peer:
        form = {
            "grant_type": "client_credentials",
            "client_id": CLIENT,
            "scope": "https://graph.microsoft.com/.default",
            "client_assertion_type": ASSERTION_TYPE,
        }
        signed = client_assertion(pem, CLIENT, peer.token_url, time.time())
        answer = httpx.post(peer.token_url, data={**form, "client_assertion": signed})
        assert answer.status_code == 200 and answer.json()["access_token"]
        forged = client_assertion(other, CLIENT, peer.token_url, time.time())
        refused = httpx.post(peer.token_url, data={**form, "client_assertion": forged})
        assert refused.status_code == 401
        assert refused.json()["error_description"].startswith("AADSTS700027:")
        stale = client_assertion(pem, CLIENT, peer.token_url, time.time() - 3600)
        expired = httpx.post(peer.token_url, data={**form, "client_assertion": stale})
        assert expired.json()["error_description"].startswith("AADSTS700024:")


def test_token_endpoint_refuses_an_unknown_tenant(graph: GraphEmulator) -> None:
    url = graph.token_url.replace(TENANT, "contoso-other")
    form = {"grant_type": "client_credentials", "client_id": CLIENT, "client_secret": SECRET}
    response = httpx.post(url, data={**form, "scope": "https://graph.microsoft.com/.default"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert response.json()["error_description"].startswith(
        "AADSTS90002: Tenant 'contoso-other' not found."
    )


def test_requests_without_a_valid_bearer_get_401(graph: GraphEmulator) -> None:
    url = f"{graph.url}/users/{ALICE}/calendar"
    for headers in ({}, {"Authorization": "Bearer not-issued"}):
        response = httpx.get(url, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "InvalidAuthenticationToken"


# -- delta rounds ---------------------------------------------------------------------------


def test_first_delta_round_pages_with_next_links_then_gives_a_delta_link(
    api: httpx.Client, graph: GraphEmulator
) -> None:
    """Every event overlapping the window once, in pages of the preferred size."""
    created = {create(api, event(f"Visit {n}", day=24 + n))["id"] for n in range(5)}
    create(api, event("Outside", day=10))
    headers = {"Prefer": "odata.maxpagesize=2"}
    url = f"/users/{ALICE}/calendarView/delta"
    first = api.get(url, params=WINDOW, headers=headers)
    assert first.headers["Preference-Applied"] == "odata.maxpagesize=2"
    assert first.json()["@odata.nextLink"].startswith(f"{graph.url}{url}?$skiptoken=")
    pages, link = delta_round(api, url, 2, **WINDOW)
    assert [len(page) for page in pages] == [2, 2, 1]
    found = [entry for page in pages for entry in page]
    assert {entry["id"] for entry in found} == created
    assert {entry["type"] for entry in found} == {"singleInstance"}
    assert link.startswith(f"{graph.url}{url}?$deltatoken=")
    assert api.get(link).json()["value"] == []


def test_a_delete_while_paging_skips_nothing_and_is_reported_next_round(
    api: httpx.Client,
) -> None:
    """Pages resume at an item, not an offset: a removal ahead of the cursor shifts nothing."""
    created = {create(api, event(f"Visit {n}", day=24 + n))["id"] for n in range(5)}
    headers = {"Prefer": "odata.maxpagesize=2"}
    url = f"/users/{ALICE}/calendarView/delta"
    first = api.get(url, params=WINDOW, headers=headers).json()
    gone = first["value"][0]["id"]
    assert api.delete(f"/users/{ALICE}/events/{gone}").status_code == 204
    seen, answer = list(first["value"]), first
    while "@odata.nextLink" in answer:
        answer = api.get(answer["@odata.nextLink"], headers=headers).json()
        seen += answer["value"]
    assert sorted(entry["id"] for entry in seen) == sorted(created)
    removed = api.get(answer["@odata.deltaLink"]).json()["value"]
    assert removed == [{"id": gone, "@removed": {"reason": "deleted"}}]


def test_incremental_round_reports_exactly_what_graph_and_exchangelib_changed(
    api: httpx.Client, alice: Account
) -> None:
    kept = create(api, event("Kept"))
    patched = create(api, event("Patched", hour=12))
    removed = create(api, event("Removed", hour=14))
    moved = create(api, event("Moved away", hour=16))
    ews_updated = appointment(alice, "EWS updated", hours=8)
    ews_deleted = appointment(alice, "EWS deleted", hours=9)
    ews_deleted_id = graph_id(ews_deleted.id)
    _, link = calendar_round(api)
    added = create(api, event("Added", day=26))
    assert api.patch(
        f"/users/{ALICE}/events/{patched['id']}", json={"subject": "Patched 2"}
    ).is_success
    far = {"start": {"dateTime": "2027-03-01T09:00:00", "timeZone": "UTC"}}
    far["end"] = {"dateTime": "2027-03-01T10:00:00", "timeZone": "UTC"}
    assert api.patch(f"/users/{ALICE}/events/{moved['id']}", json=far).is_success
    assert api.delete(f"/users/{ALICE}/events/{removed['id']}").status_code == 204
    ews_added = appointment(alice, "EWS added", hours=24)
    ews_updated.subject = "EWS updated 2"
    ews_updated.save(update_fields=["subject"])
    ews_deleted.delete()
    answer = api.get(link).json()
    present = {entry["subject"] for entry in answer["value"] if "@removed" not in entry}
    gone = {entry["id"] for entry in answer["value"] if "@removed" in entry}
    assert present == {"Added", "Patched 2", "EWS added", "EWS updated 2"}
    assert gone == {removed["id"], moved["id"], ews_deleted_id}
    assert kept["id"] not in {entry["id"] for entry in answer["value"]}
    assert {e["id"] for e in answer["value"]} >= {added["id"], graph_id(ews_added.id)}
    assert api.get(answer["@odata.deltaLink"]).json()["value"] == []


def test_recurring_series_shows_as_its_occurrences_inside_the_window(
    api: httpx.Client, alice: Account
) -> None:
    """The master is not listed; a change to it removes the series, then lists it again."""
    master = appointment(
        alice,
        "Standup",
        recurrence=Recurrence(
            pattern=WeeklyPattern(interval=1, weekdays=[3]), start=EWSDate(2026, 11, 25), number=6
        ),
    )
    found, link = calendar_round(api)
    assert [entry["start"]["dateTime"][:10] for entry in found] == ["2026-11-25", "2026-12-02"]
    assert {entry["type"] for entry in found} == {"occurrence"}
    assert {entry["seriesMasterId"] for entry in found} == {graph_id(master.id)}
    assert graph_id(master.id) not in {entry["id"] for entry in found}
    occurrence = api.get(f"/users/{ALICE}/events/{found[1]['id']}").json()
    assert occurrence["start"]["dateTime"] == "2026-12-02T10:00:00.0000000"
    assert occurrence["type"] == "occurrence" and occurrence["subject"] == "Standup"
    master.subject = "Daily standup"
    master.save(update_fields=["subject"])
    changed = api.get(link).json()["value"]
    assert changed[0] == {"id": graph_id(master.id), "@removed": {"reason": "deleted"}}
    assert [entry["subject"] for entry in changed[1:]] == ["Daily standup"] * 2
    moved = {"start": {"dateTime": "2026-11-26T10:00:00", "timeZone": "UTC"}}
    shifted = api.patch(f"/users/{ALICE}/events/{graph_id(master.id)}", json=moved)
    assert shifted.status_code == 501 and "series master" in error_of(shifted)[2]


def test_one_occurrence_patched_or_deleted(api: httpx.Client, alice: Account) -> None:
    """PATCH of an occurrence's id makes it an exception that keeps its originalStart (EWS
    sees the same exception); DELETE of one removes only it; the delta reports the series
    again each time."""
    master = appointment(
        alice,
        "Standup",
        recurrence=Recurrence(
            pattern=WeeklyPattern(interval=1, weekdays=[3]), start=EWSDate(2026, 11, 25), number=6
        ),
    )
    found, link = calendar_round(api)
    moved = {
        "subject": "Standup (late)",
        "start": {"dateTime": "2026-12-02T12:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2026-12-02T13:00:00", "timeZone": "UTC"},
    }
    patched = api.patch(f"/users/{ALICE}/events/{found[1]['id']}", json=moved).json()
    assert patched["type"] == "exception" and patched["id"] == found[1]["id"]
    assert patched["originalStart"] == "2026-12-02T10:00:00Z"
    assert patched["seriesMasterId"] == graph_id(master.id)
    changed = api.get(link).json()
    assert changed["value"][0] == {"id": graph_id(master.id), "@removed": {"reason": "deleted"}}
    assert [(e["subject"], e["type"]) for e in changed["value"][1:]] == [
        ("Standup", "occurrence"),
        ("Standup (late)", "exception"),
    ]
    (ews_view,) = [
        o
        for o in alice.calendar.view(START, START + timedelta(days=8)).only("subject", "type")
        if o.type == "Exception"
    ]
    assert ews_view.subject == "Standup (late)"
    assert api.delete(f"/users/{ALICE}/events/{found[0]['id']}").status_code == 204
    after = api.get(changed["@odata.deltaLink"]).json()["value"]
    assert [e["subject"] for e in after[1:]] == ["Standup (late)"]
    assert api.get(f"/users/{ALICE}/events/{found[0]['id']}").status_code == 404


def test_delta_refuses_the_query_options_graph_refuses(api: httpx.Client) -> None:
    calendar = api.get(
        f"/users/{ALICE}/calendarView/delta", params={**WINDOW, "$select": "subject"}
    )
    assert calendar.status_code == 400
    assert error_of(calendar)[1] == "ErrorInvalidUrlQueryFilter"
    assert "$select" in error_of(calendar)[2]
    contacts = api.get(f"/users/{ALICE}/contacts/delta", params={"$filter": "givenName eq 'x'"})
    assert contacts.status_code == 400 and "$filter" in error_of(contacts)[2]


def test_expired_delta_token_gives_410_once(api: httpx.Client, graph: GraphEmulator) -> None:
    _, link = calendar_round(api)
    graph.expire_delta()
    assert error_of(api.get(link))[:2] == (410, "SyncStateNotFound")
    assert api.get(link).status_code == 200


def test_a_token_of_another_mailbox_is_refused(api: httpx.Client) -> None:
    _, link = calendar_round(api)
    token = link.split("$deltatoken=")[1]
    response = api.get(f"/users/{CAROL}/calendarView/delta", params={"$deltatoken": token})
    assert response.status_code == 400


# -- items ----------------------------------------------------------------------------------


def test_event_created_through_graph_reads_back_through_exchangelib(
    api: httpx.Client, alice: Account, emulator: EwsEmulator
) -> None:
    body = event(
        "Review",
        body={"contentType": "text", "content": "Agenda"},
        location={"displayName": "Room 1"},
        categories=["PSA", "Blue"],
        sensitivity="private",
        showAs="tentative",
        singleValueExtendedProperties=[{"id": STAMP_ID, "value": "appointment:7"}],
    )
    created = create(api, body)
    assert created["singleValueExtendedProperties"] == [{"id": STAMP_ID, "value": "appointment:7"}]
    all_day = create(
        api,
        {
            "subject": "Conference",
            "isAllDay": True,
            "start": {"dateTime": "2026-11-27T00:00:00.0000000", "timeZone": "UTC"},
            "end": {"dateTime": "2026-11-28T00:00:00.0000000", "timeZone": "UTC"},
        },
    )
    items = {item.subject: item for item in alice.calendar.all()}
    review = items["Review"]
    assert graph_id(review.id) == created["id"] and review.changekey == created["changeKey"]
    assert (review.start, review.end) == (START, START + timedelta(hours=1))
    assert (review.body, review.location, review.categories) == (
        "Agenda",
        "Room 1",
        ["PSA", "Blue"],
    )
    assert (review.sensitivity, review.legacy_free_busy_status) == ("Private", "Tentative")
    assert review.graph_test_stamp == "appointment:7" and review.uid == created["iCalUId"]
    conference = items["Conference"]
    assert conference.is_all_day and conference.start == EWSDate(2026, 11, 27)
    assert all_day["isAllDay"] is True
    stored = {item["subject"]: item for item in emulator.items(ALICE)}
    assert stored["Conference"]["start"] == "2026-11-27T00:00:00Z"
    assert stored["Conference"]["end"] == "2026-11-28T00:00:00Z"


def test_exchangelib_item_appears_in_delta_and_its_stamp_on_get(
    api: httpx.Client, alice: Account
) -> None:
    item = appointment(alice, "Stamped", body="Notes", graph_test_stamp="appointment:9")
    (found,), _ = calendar_round(api)
    assert found["id"] == graph_id(item.id) and "body" not in found
    url = f"/users/{ALICE}/events/{found['id']}"
    expand = f"singleValueExtendedProperties($filter=id eq '{STAMP_ID}')"
    params = {"$select": "id,body,sensitivity", "$expand": expand}
    answer = api.get(url, params=params, headers=TEXT_BODY).json()
    assert answer["singleValueExtendedProperties"] == [{"id": STAMP_ID, "value": "appointment:9"}]
    assert answer["body"] == {"contentType": "text", "content": "Notes"}
    assert answer["sensitivity"] == "normal" and "subject" not in answer
    other = f"singleValueExtendedProperties($filter=id eq 'String {{{GUID}}} Name other')"
    plain = api.get(url, params={"$select": "body", "$expand": other}).json()
    assert "singleValueExtendedProperties" not in plain
    assert plain["body"]["contentType"] == "html" and "Notes" in plain["body"]["content"]


def test_patch_with_a_stale_etag_is_refused_and_delete_moves_to_deleted_items(
    api: httpx.Client, emulator: EwsEmulator
) -> None:
    created = create(api, event("Review"))
    url = f"/users/{ALICE}/events/{created['id']}"
    patched = api.patch(
        url, json={"subject": "Review 2"}, headers={"If-Match": created["@odata.etag"]}
    )
    assert patched.status_code == 200 and patched.json()["changeKey"] != created["changeKey"]
    stale = api.patch(
        url, json={"subject": "Review 3"}, headers={"If-Match": created["@odata.etag"]}
    )
    assert error_of(stale)[:2] == (412, "ErrorIrresolvableConflict")
    assert api.get(url).json()["subject"] == "Review 2"
    assert api.delete(url).status_code == 204
    assert emulator.items(ALICE) == []
    assert [item["subject"] for item in emulator.items(ALICE, "deleteditems")] == ["Review 2"]
    missing = api.get(f"/users/{ALICE}/events/{graph_id('AAAAnotthere=')}")
    assert error_of(missing)[:2] == (404, "ErrorItemNotFound")


def test_graph_writes_reach_ews_sync(api: httpx.Client, alice: Account) -> None:
    list(alice.calendar.sync_items())
    create(api, event("From Graph"))
    changes = list(alice.calendar.sync_items())
    assert [(kind, item.subject) for kind, item in changes] == [("create", "From Graph")]


def test_contacts_round_trip_between_graph_and_exchangelib(
    api: httpx.Client, alice: Account
) -> None:
    body = {
        "givenName": "Nora",
        "surname": "Weber",
        "displayName": "Nora Weber",
        "companyName": "Alpine Dental",
        "emailAddresses": [{"address": "nora@alpine.example", "name": "Nora Weber"}],
        "businessPhones": ["+41 44 000 00 00"],
        "jobTitle": "Dentist",
        "personalNotes": "Prefers mornings",
        "singleValueExtendedProperties": [{"id": STAMP_ID, "value": "contact:3"}],
    }
    created = api.post(f"/users/{ALICE}/contacts", json=body).json()
    (contact,) = list(alice.contacts.all())
    assert (contact.given_name, contact.surname, contact.company_name) == (
        "Nora",
        "Weber",
        "Alpine Dental",
    )
    assert [e.email for e in contact.email_addresses] == ["nora@alpine.example"]
    assert [p.phone_number for p in contact.phone_numbers] == ["+41 44 000 00 00"]
    assert (contact.job_title, contact.body, contact.graph_test_stamp) == (
        "Dentist",
        "Prefers mornings",
        "contact:3",
    )
    pages, link = delta_round(
        api, f"/users/{ALICE}/contacts/delta", **{"$select": "givenName,emailAddresses"}
    )
    assert pages == [
        [
            {
                "@odata.etag": created["@odata.etag"],
                "id": created["id"],
                "givenName": "Nora",
                "emailAddresses": [{"address": "nora@alpine.example", "name": "Nora Weber"}],
            }
        ]
    ]
    Contact(account=alice, folder=alice.contacts, given_name="Otto", display_name="Otto").save()
    contact.job_title = "Orthodontist"
    contact.save(update_fields=["job_title"])
    changed = api.get(link).json()["value"]
    assert sorted(entry["givenName"] for entry in changed) == ["Nora", "Otto"]
    assert set(changed[0]) == {"@odata.etag", "id", "givenName", "emailAddresses"}
    patch = api.patch(f"/users/{ALICE}/contacts/{created['id']}", json={"businessPhones": []})
    assert patch.json()["businessPhones"] == [] and patch.json()["jobTitle"] == "Orthodontist"


def test_send_mail_is_recorded_for_the_ews_emulator(
    api: httpx.Client, emulator: EwsEmulator
) -> None:
    message = {
        "subject": "Your appointments",
        "body": {"contentType": "text", "content": "Three new"},
        "toRecipients": [{"emailAddress": {"address": "nora@alpine.example"}}],
    }
    response = api.post(
        f"/users/{ALICE}/sendMail", json={"message": message, "saveToSentItems": True}
    )
    assert response.status_code == 202
    (sent,) = emulator.sent_messages()
    assert (sent["from"], sent["to"], sent["subject"], sent["body"]) == (
        ALICE,
        ["nora@alpine.example"],
        "Your appointments",
        "Three new",
    )
    assert [item["item_class"] for item in emulator.items(ALICE, "sentitems")] == ["Message"]


# -- batches, throttling, counters ---------------------------------------------------------


def batch_of(count: int) -> dict[str, Any]:
    requests = [
        {
            "id": str(n),
            "method": "POST",
            "url": f"/users/{ALICE}/events",
            "headers": {"Content-Type": "application/json"},
            "body": event(f"Batched {n}"),
        }
        for n in range(count)
    ]
    return {"requests": requests}


def test_batch_of_20_runs_each_request_and_21_is_refused(
    api: httpx.Client, emulator: EwsEmulator
) -> None:
    answer = api.post("/$batch", json=batch_of(20))
    assert answer.status_code == 200
    responses = answer.json()["responses"]
    assert [r["id"] for r in responses] == [str(n) for n in range(20)]
    assert {r["status"] for r in responses} == {201}
    assert len(emulator.items(ALICE)) == 20
    refused = api.post("/$batch", json=batch_of(21))
    assert refused.status_code == 400 and len(emulator.items(ALICE)) == 20


def test_batch_request_after_a_failed_dependency_is_not_run(
    api: httpx.Client, emulator: EwsEmulator
) -> None:
    requests = batch_of(2)["requests"]
    requests[0]["url"] = "/users/nobody@contoso.example/events"
    requests[1]["dependsOn"] = ["0"]
    responses = api.post("/$batch", json={"requests": requests}).json()["responses"]
    assert [r["status"] for r in responses] == [404, 424] and emulator.items(ALICE) == []


def test_throttle_answers_429_with_retry_after_inside_and_outside_batches(
    api: httpx.Client, graph: GraphEmulator
) -> None:
    graph.throttle(1, retry_after=3)
    throttled = api.get(f"/users/{ALICE}/calendar")
    assert error_of(throttled)[:2] == (429, "ApplicationThrottled")
    assert throttled.headers["Retry-After"] == "3"
    assert api.get(f"/users/{ALICE}/calendar").status_code == 200
    graph.throttle(2, retry_after=5, after=1)
    responses = api.post("/$batch", json=batch_of(4)).json()["responses"]
    assert [r["status"] for r in responses] == [201, 429, 429, 201]
    assert responses[1]["headers"]["Retry-After"] == "5"
    assert responses[1]["body"]["error"]["code"] == "ApplicationThrottled"


def test_a_batch_with_an_absolute_url_is_refused_whole(
    api: httpx.Client, graph: GraphEmulator, emulator: EwsEmulator
) -> None:
    """Graph takes a batch's URLs relative to its version only (an SDK's batch builder sends
    them absolute unless told otherwise): the whole batch is refused, nothing runs."""
    requests = batch_of(2)["requests"]
    requests[1]["url"] = graph.url + requests[1]["url"]
    refused = api.post("/$batch", json={"requests": requests})
    assert error_of(refused) == (400, "BadRequest", "Invalid batch payload format.")
    assert emulator.items(ALICE) == []


def test_delta_requests_of_several_mailboxes_in_a_batch_answer_as_outside(
    api: httpx.Client, graph: GraphEmulator
) -> None:
    """The idle checks of a run in one batch: each delta link's answer inside the batch is
    the answer the same GET gets outside, whatever mailbox it reads."""
    for address in (ALICE, CAROL):
        assert api.post(f"/users/{address}/events", json=event("Before")).status_code == 201
    links = [
        delta_round(api, f"/users/{address}/calendarView/delta", **WINDOW)[1]
        for address in (ALICE, CAROL)
    ]
    links.append(delta_round(api, f"/users/{ALICE}/contacts/delta")[1])
    create(api, event("Since the last round"))
    prefer = {"Prefer": 'odata.maxpagesize=5, outlook.timezone="UTC"'}
    requests = [
        {"id": str(n), "method": "GET", "url": link.removeprefix(graph.url), "headers": prefer}
        for n, link in enumerate(links)
    ]
    responses = api.post("/$batch", json={"requests": requests}).json()["responses"]
    assert [r["status"] for r in responses] == [200, 200, 200]
    outside = [api.get(link, headers=prefer).json() for link in links]
    assert [r["body"] for r in responses] == outside
    assert [len(r["body"]["value"]) for r in responses] == [1, 0, 0]


def test_each_request_of_a_batch_draws_on_its_own_mailbox_limit(
    api: httpx.Client, graph: GraphEmulator
) -> None:
    """Outlook's limits are per app and mailbox, for each request of a batch as for one
    alone: the request over its mailbox's limit gets 429 with a Retry-After inside the
    batch; the others, and the other mailbox's, are answered."""
    graph.limit_mailboxes(2, seconds=30)
    urls = [f"/users/{ALICE}/calendar"] * 3 + [f"/users/{CAROL}/calendar"]
    requests = [{"id": str(n), "method": "GET", "url": url} for n, url in enumerate(urls)]
    responses = api.post("/$batch", json={"requests": requests}).json()["responses"]
    assert [r["status"] for r in responses] == [200, 200, 429, 200]
    throttled = responses[2]
    assert throttled["body"]["error"]["code"] == "ApplicationThrottled"
    assert 1 <= int(throttled["headers"]["Retry-After"]) <= 30
    assert api.get(f"/users/{ALICE}/calendar").status_code == 429
    assert api.get(f"/users/{CAROL}/calendar").status_code == 200


def test_a_fifth_request_in_flight_for_a_mailbox_is_throttled_inside_a_batch_too(
    api: httpx.Client, graph: GraphEmulator
) -> None:
    """Outlook serves four requests at once per app and mailbox: with four in flight, a
    fifth for the same mailbox gets 429 MailboxConcurrency with a Retry-After, alone or
    inside a batch, where another mailbox's request is answered."""
    graph.hold_mailbox(ALICE)
    calendar = f"/users/{ALICE}/calendar"
    with ThreadPoolExecutor(4) as pool:
        held = [pool.submit(api.get, calendar) for _ in range(4)]
        try:
            assert graph.wait_in_flight(ALICE, 4)
            status, code, message = error_of(api.get(calendar))
            urls = [calendar, f"/users/{CAROL}/calendar"]
            requests = [{"id": str(n), "method": "GET", "url": url} for n, url in enumerate(urls)]
            responses = api.post("/$batch", json={"requests": requests}).json()["responses"]
        finally:
            graph.release_mailbox(ALICE)
        assert [answer.result().status_code for answer in held] == [200] * 4
    assert (status, code) == (429, "ApplicationThrottled") and "MailboxConcurrency" in message
    assert [r["status"] for r in responses] == [429, 200]
    assert responses[0]["headers"]["Retry-After"] == "1"
    assert api.get(calendar).status_code == 200


def test_stats_count_socket_requests_and_a_batch_as_one(
    api: httpx.Client, graph: GraphEmulator
) -> None:
    graph.stats.reset()
    token(graph)
    api.get(f"/users/{ALICE}/calendar")
    api.post("/$batch", json=batch_of(3))
    snapshot = graph.stats.snapshot()
    assert snapshot == {
        "total": 2,
        "by_operation": {"calendar": 1, "$batch": 1},
        "by_mailbox": {ALICE: 2},
    }


# -- refusals -------------------------------------------------------------------------------


def test_mailbox_outside_the_access_policy_gets_403_raop(api: httpx.Client) -> None:
    status, code, message = error_of(api.get(f"/users/{BOB}/calendar"))
    assert (status, code) == (403, "ErrorAccessDenied")
    assert message.startswith("Access to OData is disabled: [RAOP]")


def test_revoked_role_gives_403_to_tokens_issued_after(
    graph: GraphEmulator, api: httpx.Client
) -> None:
    graph.revoke_role("Calendars.ReadWrite")
    bearer = {"Authorization": f"Bearer {token(graph).json()['access_token']}"}
    refused = httpx.get(f"{graph.url}/users/{ALICE}/calendar", headers=bearer)
    assert error_of(refused) == (
        403,
        "ErrorAccessDenied",
        "Access is denied. Check credentials and try again.",
    )
    assert httpx.get(f"{graph.url}/users/{ALICE}/contacts/delta", headers=bearer).status_code == 200
    assert api.get(f"/users/{ALICE}/calendar").status_code == 200


def test_unknown_user_gets_404(api: httpx.Client) -> None:
    response = api.get("/users/nobody@contoso.example/calendar")
    assert error_of(response) == (
        404,
        "ErrorInvalidUser",
        "The requested user 'nobody@contoso.example' is invalid.",
    )


def test_what_the_emulator_lacks_is_501_naming_it(api: httpx.Client) -> None:
    route = api.get(f"/users/{ALICE}/messages")
    assert error_of(route)[:2] == (501, "NotImplemented")
    assert f"GET /users/{ALICE}/messages" in error_of(route)[2]
    attendees = api.post(f"/users/{ALICE}/events", json=event("Meeting", attendees=[]))
    assert attendees.status_code == 501 and "'attendees'" in error_of(attendees)[2]
    zone = event("Zoned")
    zone["start"]["timeZone"] = "W. Europe Standard Time"
    zoned = api.post(f"/users/{ALICE}/events", json=zone)
    assert zoned.status_code == 501 and "W. Europe Standard Time" in error_of(zoned)[2]


def test_malformed_json_is_a_bad_request(api: httpx.Client) -> None:
    response = api.post(
        f"/users/{ALICE}/events", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert error_of(response)[:2] == (400, "BadRequest")


def test_calendar_folder_is_the_one_ews_knows(api: httpx.Client) -> None:
    answer = api.get(f"/users/{ALICE}/calendar", params={"$select": "id,name"}).json()
    assert (answer["id"], answer["name"]) == (graph_id(folder_id(ALICE, "calendar")), "Calendar")
