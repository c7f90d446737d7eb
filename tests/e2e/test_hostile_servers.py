"""Hostile servers on 127.0.0.1 against the real clients: EWS (exchangelib over requests),
Microsoft Graph and the PSA's REST API (httpx). A broken or malicious server costs one
failed request, on time and in bounded memory; throttling never becomes a tight loop; a
credential goes only where the settings point, and TLS is each connection's own choice."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from engine.errors import UserError
from engine.exchange.connection_check import check_connection
from engine.exchange.mailbox.base import FolderKind, MailboxError, ThrottledError
from engine.exchange.mailbox.ews import EwsConnector
from engine.exchange.mailbox.graph import GraphMailbox
from engine.graph.http import GraphClient, GraphRequest
from engine.net.limits import MIB, HttpLimits
from engine.net.origins import ForeignLinkError, InsecureTransportError
from engine.psa.rest import RestPsa
from engine.psa.rest_client import (
    PsaRestClient,
    PsaRestError,
    PsaThrottledError,
    RequestBudget,
    every,
)
from engine.settings.model import ExchangeGeneral
from engine.settings.store import SettingsStore
from tests.certificate import self_signed
from tests.e2e.harness import Harness
from tests.e2e.hostile import HostileServer, drip, finishes, flood, json_answer

AVA = "ava.fischer@contoso.example"
DEADLINE = 1.5
LIMITS = HttpLimits(deadline_seconds=DEADLINE, max_response_bytes=MIB)
TOKEN = {"access_token": "t0ken", "token_type": "Bearer", "expires_in": 3599}


def ews(url: str, **changes: object) -> EwsConnector:
    general = ExchangeGeneral(
        sync_account="svc-sync@contoso.example", auth_type="basic", exchange_version="2016"
    ).model_copy(
        update={"ews_url": url, "timeout_seconds": DEADLINE, "max_response_mib": 1, **changes}
    )
    return EwsConnector(general, "s3cret")


def graph(url: str, limits: HttpLimits = LIMITS) -> GraphClient:
    return GraphClient(f"{url}/v1.0", f"{url}/token", "client-id", "s3cret", limits=limits)


def psa(url: str, **options: object) -> PsaRestClient:
    return PsaRestClient(
        f"{url}/ATServicesRest/", "api@contoso.example", "s3cret", "CODE", **options
    )


def graph_get(url: str) -> object:
    return graph(url).call(
        GraphRequest("GET", f"/users/{AVA}/calendar"), AVA, "Calendars.ReadWrite"
    )


def token_then(
    answer: Callable[[BaseHTTPRequestHandler], None],
) -> Callable[[BaseHTTPRequestHandler], None]:
    """The token endpoint answers; everything else is ``answer``."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        if handler.path.endswith("/token"):
            json_answer(handler, TOKEN)
        else:
            answer(handler)

    return route


def zone_then(
    answer: Callable[[BaseHTTPRequestHandler], None], zone: str | None = None
) -> Callable[[BaseHTTPRequestHandler], None]:
    """Zone discovery names ``zone`` (the server itself by default); the rest is ``answer``."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        if "/ZoneInformation" in handler.path:
            own = f"http://127.0.0.1:{handler.server.server_address[1]}"
            json_answer(handler, {"url": zone or f"{own}/ATServicesRest/"})
        else:
            answer(handler)

    return route


CLIENTS: dict[str, tuple[Callable[..., object], Callable[[str], object]]] = {
    # name: (how the server's answers are routed, the request made)
    "ews": (lambda answer: answer, lambda url: ews(f"{url}/EWS/Exchange.asmx").resolve(AVA)),
    "graph": (token_then, graph_get),
    "psa": (zone_then, lambda url: psa(url, limits=LIMITS).count("Resources", every())),
}


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_a_server_dripping_bytes_fails_the_request_at_its_deadline(client: str) -> None:
    """Issue 17.4: one byte every quarter second keeps every read timeout happy; the request
    still ends at its overall deadline with one clear line naming the setting."""
    route, request = CLIENTS[client]
    with HostileServer(route(drip())) as server:
        outcome = finishes(lambda: request(server.url), within=DEADLINE + 4)
    assert isinstance(outcome, UserError), outcome
    assert f"no complete answer within {DEADLINE:g} s" in str(outcome)


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_a_flood_fails_the_request_once_past_the_size_cap(client: str) -> None:
    """Issue 17.5: a 128 MiB answer against a 1 MiB cap fails its request as soon as the
    cap is passed; the rest is never read."""
    route, request = CLIENTS[client]
    with HostileServer(route(flood(128 * MIB))) as server:
        outcome = finishes(lambda: request(server.url), within=10)
        sent = server.sent
    assert isinstance(outcome, UserError), outcome
    assert "answered more than 1 MiB" in str(outcome)
    assert sent < 32 * MIB


def throttled(retry_after: str) -> Callable[[BaseHTTPRequestHandler], None]:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        json_answer(handler, {"errors": ["slow down"]}, status=429, Retry_After=retry_after)

    return answer


@pytest.mark.parametrize("retry_after", ["0", "nan"])
def test_a_retry_after_of_zero_or_nonsense_backs_off_instead_of_looping(retry_after: str) -> None:
    """Issue 17.7: the PSA and Graph answer 429 with a Retry-After that asks for no wait.
    Each client waits at least a second, doubling (with jitter), and gives the request up
    for the next run once its wait would pass the limit: two requests, not thousands."""
    with HostileServer(zone_then(throttled(retry_after))) as server:
        outcome = finishes(lambda: psa(server.url, max_wait=2.5).count("Resources", every()), 8)
        psa_requests = len(server.requests) - 1
    assert isinstance(outcome, PsaThrottledError), outcome
    with HostileServer(token_then(throttled(retry_after))) as server:
        outcome = finishes(lambda: graph_get(server.url), 8)
        graph_requests = len(server.requests) - 1
    assert isinstance(outcome, ThrottledError), outcome
    assert psa_requests <= 3 and graph_requests <= 3, (psa_requests, graph_requests)


def test_the_psa_hourly_budget_is_shared_by_separate_runs(tmp_path: Path) -> None:
    """Issue 17.7: the budget is kept in the profile's state, so a second run (a new
    process, here a new budget on the same file) counts what the first one used."""
    path = tmp_path / "psa-budget.sqlite"
    count = lambda handler: json_answer(handler, {"queryCount": 8})  # noqa: E731
    with HostileServer(zone_then(count)) as server:
        first = psa(server.url, budget=RequestBudget(3, path))
        first.count("Resources", every())
        first.count("Contacts", every())
        first.close()
        second = psa(server.url, budget=RequestBudget(3, path))
        second.count("Companies", every())
        with pytest.raises(PsaThrottledError, match="hourly budget of 3"):
            second.count("Tickets", every())
        assert second.budget.used == 3
        second.close()


@pytest.mark.parametrize(
    "make",
    [
        lambda: ews("http://mail.contoso.example/EWS/Exchange.asmx"),
        lambda: graph("http://graph.contoso.example"),
        lambda: GraphClient(
            "https://graph.microsoft.com/v1.0",
            "http://login.contoso.example/token",
            "client-id",
            "s3cret",
            limits=LIMITS,
        ),
        lambda: psa("http://psa.contoso.example"),
    ],
    ids=["ews", "graph", "token", "psa"],
)
def test_no_client_sends_a_credential_over_plain_http_to_another_host(
    make: Callable[[], object],
) -> None:
    """Issue 17.8: the clients refuse plain http to any host but this machine before
    anything is sent (the settings refuse it too; this holds for URLs from elsewhere)."""
    with pytest.raises(InsecureTransportError, match="must be https"):
        make()


def test_psa_links_to_another_server_are_not_followed() -> None:
    """Issue 17.9: a next-page URL and a zone on another server (another port of
    127.0.0.1 here) are refused with ForeignLinkError; the other server hears nothing."""
    empty = lambda handler: json_answer(handler, {})  # noqa: E731
    with HostileServer(empty) as foreign:
        next_page = f"{foreign.url}/ATServicesRest/v1.0/Resources/query/next"
        page = {"items": [{"id": 1}], "pageDetails": {"nextPageUrl": next_page}}
        paging = zone_then(lambda handler: json_answer(handler, page))
        with HostileServer(paging) as server, pytest.raises(ForeignLinkError, match="next page"):
            list(psa(server.url).query("Resources", every()))
        elsewhere = zone_then(empty, zone=f"{foreign.url}/ATServicesRest/")
        with HostileServer(elsewhere) as server, pytest.raises(ForeignLinkError, match="zone"):
            psa(server.url)
        assert foreign.requests == []


def test_graph_links_to_another_server_are_neither_followed_nor_kept() -> None:
    """Issue 17.9: a nextLink to another server ends the pull before its page is kept as a
    sync state, and a stored link to another server is not sent the token."""
    window = (datetime.now(UTC), datetime.now(UTC) + timedelta(days=7))
    last = lambda handler: json_answer(handler, {"value": [], "@odata.deltaLink": "/v1.0/d"})  # noqa: E731
    with HostileServer(last) as foreign:
        page = {
            "value": [],
            "@odata.nextLink": f"{foreign.url}/elsewhere/delta?x=1",
        }
        with HostileServer(token_then(lambda handler: json_answer(handler, page))) as server:
            mailbox = GraphMailbox(graph(server.url), AVA)
            with pytest.raises(MailboxError, match="outside"):
                list(mailbox.pull(FolderKind.CONTACTS, None, 10, window))
            stored = json.dumps({"mailbox": AVA, "span": None, "link": page["@odata.nextLink"]})
            with pytest.raises(MailboxError, match="outside"):
                list(mailbox.pull(FolderKind.CONTACTS, stored, 10, window))
        assert foreign.requests == []


def test_tls_verification_is_each_connections_own(tmp_path: Path) -> None:
    """Issue 17.10: a connection with verify_tls off does not switch verification off for
    the connections made after it (exchangelib's adapter is process-wide)."""
    pem = tmp_path / "server.pem"
    pem.write_text(self_signed("127.0.0.1")[0])
    answer = lambda handler: json_answer(handler, {}, status=500)  # noqa: E731
    with HostileServer(answer, tls=pem) as server:
        url = f"{server.url}/EWS/Exchange.asmx"
        with pytest.raises(MailboxError) as trusting:
            ews(url, verify_tls=False).resolve(AVA)
        assert "CERTIFICATE_VERIFY_FAILED" not in str(trusting.value)
        assert server.requests, "the unverified connection reached the server"
        reached = len(server.requests)
        with pytest.raises(MailboxError, match="CERTIFICATE_VERIFY_FAILED"):
            ews(url).resolve(AVA)
        assert len(server.requests) == reached


def test_connection_test_never_reuses_the_protocol_of_another_authentication(
    harness: Harness,
) -> None:
    """Issue 18.1 (R14): against one endpoint that accepts only Basic, NTLM fails, Basic
    then passes, and NTLM fails again: no test inherits the previous one's protocol."""

    def signs_in(auth_type: str) -> bool:
        harness.set("exchange.general.auth_type", auth_type)
        settings = SettingsStore(harness.paths, environ={}).load()
        steps = {step.name: step.ok for step in check_connection(settings, harness.paths, None)}
        return steps.get("Credentials of the synchronization account", False)

    assert [signs_in(kind) for kind in ("ntlm", "basic", "ntlm", "basic")] == [
        False,
        True,
        False,
        True,
    ]


def test_psa_data_missing_what_msext_reads_is_the_psas_named_error() -> None:
    """Issue 17.12: a record that is null, or lacks a field msext reads, fails with one line
    naming the PSA's API, never as an internal error ("'NoneType' object has no ...")."""
    for items in ([None], [{"id": 1}]):
        page = {"items": items, "pageDetails": {"nextPageUrl": None}}
        server_answers = zone_then(lambda handler, page=page: json_answer(handler, page))
        with HostileServer(server_answers) as server:
            source = RestPsa(psa(server.url))
            with pytest.raises(PsaRestError, match="the PSA's REST API answered data msext"):
                source.resources()


def test_graph_data_missing_what_msext_reads_is_the_mailboxs_named_error() -> None:
    """Issue 17.12: an entry of a page that is null or not an object is a
    mailbox error naming Microsoft Graph (the user's error for this run), not an internal
    error."""
    window = (datetime.now(UTC), datetime.now(UTC) + timedelta(days=7))
    for value in ([None], [42]):

        def page(handler: BaseHTTPRequestHandler, value: object = value) -> None:
            own = f"http://127.0.0.1:{handler.server.server_address[1]}"
            json_answer(handler, {"value": value, "@odata.deltaLink": f"{own}/v1.0/d"})

        answers = token_then(page)
        with HostileServer(answers) as server:
            mailbox = GraphMailbox(graph(server.url), AVA)
            with pytest.raises(MailboxError, match="Microsoft Graph answered data msext"):
                list(mailbox.pull(FolderKind.CALENDAR, None, 10, window))
