"""The PSA REST peer and the httpx client, as a real integration would meet the API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest

from engine.psa.demo import seed_demo_psa
from engine.psa.embedded import EmbeddedPsa
from engine.psa.model import RecordKind
from engine.psa.rest import RestPsa
from engine.psa.rest_client import (
    PsaRestClient,
    PsaRestError,
    PsaThrottledError,
    RequestBudget,
    every,
)
from engine.sandbox.psa_rest import PsaRestEmulator

SECRET = "api-S3cret"


@pytest.fixture(scope="module")
def psa_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("psa") / "psa.sqlite"
    psa = EmbeddedPsa(path)
    seed_demo_psa(psa, date(2026, 11, 24))
    psa.close()
    return path


@pytest.fixture
def peer(psa_db: Path) -> Iterator[PsaRestEmulator]:
    with PsaRestEmulator(psa_db, secret=SECRET) as emulator:
        yield emulator


def client(peer: PsaRestEmulator, secret: str = SECRET, **options: object) -> PsaRestClient:
    return PsaRestClient(
        peer.url, peer.user.username, secret, peer.user.integration_code, **options
    )


def headers(peer: PsaRestEmulator) -> dict[str, str]:
    return {
        "UserName": peer.user.username,
        "Secret": SECRET,
        "ApiIntegrationCode": peer.user.integration_code,
    }


def test_zone_discovery_gives_the_versioned_base(peer: PsaRestEmulator) -> None:
    """ZoneInformation answers a URL without a version; the client appends v1.0."""
    zone = httpx.get(f"{peer.url}V1.0/ZoneInformation", params={"user": "someone"}).json()
    assert set(zone) == {"zoneName", "url", "webUrl", "ci"} and "v1.0" not in zone["url"]
    assert client(peer).base == f"{zone['url'].rstrip('/')}/v1.0"


def test_paging_follows_next_page_urls_over_500_records(
    peer: PsaRestEmulator, psa_db: Path
) -> None:
    """More than 500 contacts come in pages of 500, each fetched by the nextPageUrl."""
    embedded = EmbeddedPsa(psa_db)
    total = embedded.counts()["contacts"]
    embedded.close()
    assert total > 1000
    api = client(peer)
    items = list(api.query("Contacts", every()))
    assert len(items) == total and len({item["id"] for item in items}) == total
    assert api.requests == -(-total // 500)
    assert api.count("Contacts", every()) == total


def test_results_over_a_page_need_the_id_among_the_fields(peer: PsaRestEmulator) -> None:
    answer = httpx.post(
        f"{peer.url}v1.0/Contacts/query",
        json={"IncludeFields": ["firstName"], "Filter": every()},
        headers=headers(peer),
    )
    assert answer.status_code == 400 and "id" in answer.json()["errors"][0]


def test_a_429_in_the_middle_is_waited_out(peer: PsaRestEmulator) -> None:
    """The API says "too many requests" between two pages; the client waits as told and
    goes on, and nothing is lost or repeated."""
    api = client(peer)
    pages = api.query("Contacts", every())
    first = [next(pages) for _ in range(500)]
    peer.throttle(2, retry_after=0.05)
    rest = list(pages)
    ids = [item["id"] for item in first + rest]
    assert len(ids) == len(set(ids)) == api.count("Contacts", every())
    assert peer.state.throttled == 2


def test_throttling_longer_than_a_run_may_wait_is_an_error_for_the_next_run(
    peer: PsaRestEmulator,
) -> None:
    peer.throttle(50, retry_after=0.2)
    with pytest.raises(PsaThrottledError, match="next run"):
        list(client(peer, max_wait=0.5).query("Resources", every()))


def test_a_wrong_secret_is_refused_clearly(peer: PsaRestEmulator) -> None:
    with pytest.raises(PsaRestError, match="refused the API user") as refused:
        list(client(peer, secret="wrong").query("Resources", every()))
    assert "wrong" not in str(refused.value)


def test_the_hourly_budget_is_kept_centrally(peer: PsaRestEmulator) -> None:
    """10,000 requests an hour per database: the client stops before the API has to."""
    budget = RequestBudget(limit=3)
    api = client(peer, budget=budget)
    api.count("Resources", every())
    api.count("Contacts", every())
    api.count("Companies", every())
    assert budget.used == 3
    with pytest.raises(PsaThrottledError, match="hourly budget of 3"):
        api.count("Tickets", every())


def test_keys_and_paths_are_read_case_insensitively(peer: PsaRestEmulator) -> None:
    answer = httpx.post(
        f"{peer.url}V1.0/contacts/QUERY",
        json={"filter": [{"OP": "eq", "FIELD": "ID", "VALUE": 7}]},
        headers=headers(peer),
    )
    assert [item["id"] for item in answer.json()["items"]] == [7]


def test_get_form_of_query_and_single_items(peer: PsaRestEmulator) -> None:
    search = '{"filter":[{"op":"eq","field":"id","value":3}]}'
    found = httpx.get(
        f"{peer.url}v1.0/Resources/query", params={"search": search}, headers=headers(peer)
    ).json()
    (item,) = found["items"]
    single = httpx.get(f"{peer.url}v1.0/Resources/3", headers=headers(peer)).json()
    assert single == {"item": item}


def test_what_the_peer_does_not_implement_is_named(peer: PsaRestEmulator) -> None:
    """Never a silent success: unknown entities, operators and writes say what they are."""
    unknown = httpx.post(f"{peer.url}v1.0/Invoices/query", json={}, headers=headers(peer))
    assert unknown.status_code == 404 and "Invoices" in unknown.json()["errors"][0]
    operator = httpx.post(
        f"{peer.url}v1.0/Resources/query",
        json={"Filter": [{"op": "like", "field": "id", "value": 1}]},
        headers=headers(peer),
    )
    assert operator.status_code == 400 and "like" in operator.json()["errors"][0]
    write = httpx.delete(f"{peer.url}v1.0/Contacts/1", headers=headers(peer))
    assert write.status_code == 405 and "DELETE Contacts/1" in write.json()["errors"][0]


def _appointment(
    api: PsaRestClient,
    title: str,
    start: str = "2026-12-02T09:00:00.000Z",
    end: str = "2026-12-02T10:00:00.000Z",
) -> int:
    """A new appointment of resource 1, made through the API; its id."""
    fields = {"resourceID": 1, "title": title, "description": ""}
    return api.create("Appointments", fields | {"startDateTime": start, "endDateTime": end})


def test_appointments_are_created_updated_and_deleted(peer: PsaRestEmulator) -> None:
    api = client(peer)
    new = _appointment(
        api, "From a mailbox", "2026-12-01T09:00:00.000Z", "2026-12-01T10:00:00.000Z"
    )
    api.update("Appointments", {"id": new, "title": "Renamed"})
    (item,) = api.query("Appointments", [{"op": "eq", "field": "id", "value": new}])
    assert item["title"] == "Renamed" and item["startDateTime"] == "2026-12-01T09:00:00.000Z"
    api.delete("Appointments", new)
    assert api.count("Appointments", [{"op": "eq", "field": "id", "value": new}]) == 0


def test_an_id_is_never_reused_after_a_delete(peer: PsaRestEmulator) -> None:
    """Autotask never hands out an id twice: a stale link to a deleted appointment must
    never reach a record created after it."""
    api = client(peer)
    first = _appointment(api, "Deleted soon")
    api.delete("Appointments", first)
    second = _appointment(api, "Created after")
    assert second > first


def test_writes_to_a_missing_id_are_refused_with_404(peer: PsaRestEmulator) -> None:
    """PATCH, PUT and a second DELETE of a record that is gone answer 404 in the API's
    error shape, never 200."""
    api = client(peer)
    gone = _appointment(api, "Gone")
    api.delete("Appointments", gone)
    base, auth = f"{peer.url}v1.0/Appointments", headers(peer)
    fields = {
        "id": gone,
        "resourceID": 1,
        "title": "Back?",
        "startDateTime": "2026-12-02T09:00:00.000Z",
        "endDateTime": "2026-12-02T10:00:00.000Z",
    }
    answers = [
        httpx.patch(base, json={"id": gone, "title": "Back?"}, headers=auth),
        httpx.put(base, json=fields, headers=auth),
        httpx.delete(f"{base}/{gone}", headers=auth),
    ]
    for answer in answers:
        assert answer.status_code == 404, answer.text
        assert str(gone) in answer.json()["errors"][0]


def test_put_replaces_every_writable_field(peer: PsaRestEmulator) -> None:
    """PUT sets what it is given and clears what it omits (PATCH keeps it)."""
    api = client(peer)
    record = _appointment(api, "Full")
    api.update("Appointments", {"id": record, "description": "kept by PATCH"})
    answer = httpx.put(
        f"{peer.url}v1.0/Appointments",
        json={
            "id": record,
            "resourceID": 1,
            "title": "Replaced",
            "startDateTime": "2026-12-02T11:00:00.000Z",
            "endDateTime": "2026-12-02T12:00:00.000Z",
        },
        headers=headers(peer),
    )
    assert answer.json() == {"itemId": record}
    (item,) = api.query("Appointments", [{"op": "eq", "field": "id", "value": record}])
    assert (item["title"], item["description"]) == ("Replaced", "")
    assert item["startDateTime"] == "2026-12-02T11:00:00.000Z"


def test_next_page_urls_keep_their_length_over_250_pages(peer: PsaRestEmulator) -> None:
    """Each ``nextPageUrl`` carries the original search and a cursor, never the previous
    page's filter nested one level deeper (which grew past 36,000 characters and ended in
    a RecursionError)."""
    auth = headers(peer)
    answer = httpx.post(
        f"{peer.url}v1.0/Contacts/query",
        json={"MaxRecords": 4, "Filter": every()},
        headers=auth,
    ).json()
    lengths, ids = [], [item["id"] for item in answer["items"]]
    with httpx.Client(headers=auth) as http:
        for _ in range(250):
            following = answer["pageDetails"]["nextPageUrl"]
            lengths.append(len(following))
            answer = http.get(following).json()
            ids += [item["id"] for item in answer["items"]]
    assert max(lengths) - min(lengths) <= 3, (min(lengths), max(lengths))
    assert len(ids) == len(set(ids)) == 251 * 4 and ids == sorted(ids)


def test_a_date_without_a_zone_is_read_as_utc(peer: PsaRestEmulator) -> None:
    """The API keeps and returns every time in UTC and documents yyyy-mm-ddThh:mm:ss.ms
    without a zone, so a zone-less value in a filter or a write is UTC, not a silent
    empty result."""
    api = client(peer)
    record = _appointment(api, "Zone-less", "2026-12-03T09:00:00.00", "2026-12-03T10:00:00")
    for value in ("2026-12-03T09:00:00", "2026-12-03T09:00:00.000", "2026-12-03T09:00:00Z"):
        found = api.query(
            "Appointments",
            [
                {"op": "eq", "field": "title", "value": "Zone-less"},
                {"op": "eq", "field": "startDateTime", "value": value},
                {"op": "gte", "field": "endDateTime", "value": value},
            ],
        )
        assert [item["id"] for item in found] == [record], value
    (item,) = api.query("Appointments", [{"op": "eq", "field": "id", "value": record}])
    assert item["endDateTime"] == "2026-12-03T10:00:00.000Z"


def test_a_malformed_date_in_a_filter_is_refused_by_name(peer: PsaRestEmulator) -> None:
    answer = httpx.post(
        f"{peer.url}v1.0/Appointments/query",
        json={"Filter": [{"op": "gt", "field": "startDateTime", "value": "2026-11-31T09:00"}]},
        headers=headers(peer),
    )
    assert answer.status_code == 400 and "2026-11-31T09:00" in answer.json()["errors"][0]


def test_both_psa_sources_list_the_same_companies_by_name(
    peer: PsaRestEmulator, psa_db: Path
) -> None:
    """AD Sync's organizations are PSA companies: the embedded PSA and the REST API list the
    same ones, by name, for the console to pick from (issue 19)."""
    embedded = EmbeddedPsa(psa_db)
    listed = embedded.companies()
    embedded.close()
    assert len(listed) == 120
    assert [company.name for company in listed] == sorted(company.name for company in listed)
    assert RestPsa(client(peer)).companies() == listed


def _new_contact(peer: PsaRestEmulator, company: int = 1, **fields: object) -> httpx.Response:
    body = {"firstName": "Ada", "lastName": "Lovelace", "isActive": 1} | fields
    return httpx.post(
        f"{peer.url}v1.0/Companies/{company}/Contacts", json=body, headers=headers(peer)
    )


def test_contacts_are_created_and_patched_under_their_company(peer: PsaRestEmulator) -> None:
    """Contacts are children of Companies: POST and PATCH at Companies/{id}/Contacts, the
    query at Contacts/query by companyID; PATCH changes only the fields it names."""
    created = _new_contact(peer, 2, title="Analyst", countryID=1, mobilePhone="+1 555 0199")
    contact = created.json()["itemId"]
    patched = httpx.patch(
        f"{peer.url}v1.0/Companies/2/Contacts",
        json={"id": contact, "city": "Riverton", "isActive": 0},
        headers=headers(peer),
    )
    assert patched.json() == {"itemId": contact}
    (item,) = client(peer).query("Contacts", [{"op": "eq", "field": "id", "value": contact}])
    assert (item["companyID"], item["title"], item["city"]) == (2, "Analyst", "Riverton")
    assert (item["countryID"], item["mobilePhone"], item["isActive"]) == (1, "+1 555 0199", 0)


def test_contact_writes_are_refused_as_the_api_refuses_them(peer: PsaRestEmulator) -> None:
    """Required fields, field lengths, countries and the entity's own fields are checked,
    and the refusal is the API's errors shape, never a silent success."""
    refusals = {
        "lastName": _new_contact(peer, lastName=""),
        "firstName": _new_contact(peer, firstName="F" * 51),
        "countryID": _new_contact(peer, countryID=9999),
        "isActive": _new_contact(peer, isActive=True),
        "department": _new_contact(peer, department="Sales"),
    }
    for field, answer in refusals.items():
        assert answer.status_code == 500, (field, answer.text)
        assert field in answer.json()["errors"][0]
    assert "exceeds maximum length" in refusals["firstName"].json()["errors"][0]
    assert _new_contact(peer, firstName="F" * 50).status_code == 200


def test_contacts_are_written_only_under_a_company_that_has_them(peer: PsaRestEmulator) -> None:
    """A missing id, another company's contact and a missing company are 404s; the root
    path is not where contacts are written."""
    contact = _new_contact(peer, 1).json()["itemId"]
    auth = headers(peer)
    other = httpx.patch(
        f"{peer.url}v1.0/Companies/2/Contacts", json={"id": contact, "title": "X"}, headers=auth
    )
    missing = httpx.patch(
        f"{peer.url}v1.0/Companies/1/Contacts", json={"id": 10**9, "title": "X"}, headers=auth
    )
    no_company = _new_contact(peer, 10**9)
    for answer in (other, missing, no_company):
        assert answer.status_code == 404, answer.text
    root = httpx.post(
        f"{peer.url}v1.0/Contacts",
        json={"companyID": 1, "firstName": "A", "lastName": "B", "isActive": 1},
        headers=auth,
    )
    assert root.status_code == 405 and "Companies/{companyID}/Contacts" in root.text


def test_a_contact_id_is_never_reused_after_a_delete(peer: PsaRestEmulator, psa_db: Path) -> None:
    first = _new_contact(peer).json()["itemId"]
    embedded = EmbeddedPsa(psa_db)
    embedded.delete(RecordKind.CONTACT, first)
    embedded.close()
    assert _new_contact(peer).json()["itemId"] > first


def test_countries_are_listed_with_their_codes(peer: PsaRestEmulator) -> None:
    countries = {item["countryCode"]: item for item in client(peer).query("Countries", every())}
    assert countries["US"]["displayName"] == "United States" and len(countries) > 20
