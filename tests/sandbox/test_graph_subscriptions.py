"""The Graph peer's ``/subscriptions`` over httpx and Microsoft's msgraph-sdk: validation of
the notification URL, expiration bounds, renewal, deletion, and the notifications it posts."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.core.credentials import AccessToken
from exchangelib import UTC as EWS_UTC
from exchangelib import EWSDateTime
from exchangelib.protocol import close_connections
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.subscription import Subscription

from engine.sandbox.graph import GraphEmulator
from tests.certificate import receiver_files
from tests.sandbox.notifications import (
    CLIENT,
    EVENT,
    SECRET,
    TENANT,
    Endpoint,
    graph_client,
    notifying_graph,
)
from tests.sandbox.peer import ALICE, BOB, impersonate, new_emulator, save_appointment


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The endpoint's certificate (also the CA file the peer trusts) and key."""
    return receiver_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def graph(tls: tuple[Path, Path]) -> Iterator[GraphEmulator]:
    with notifying_graph(tls[0]) as peer:
        yield peer


@pytest.fixture
def endpoint(tls: tuple[Path, Path]) -> Iterator[Endpoint]:
    endpoint = Endpoint(*tls)
    yield endpoint
    endpoint.close()


@pytest.fixture
def client(graph: GraphEmulator) -> Iterator[httpx.Client]:
    with graph_client(graph) as client:
        yield client


def expiring(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def subscription(endpoint: Endpoint, **changes: Any) -> dict[str, Any]:
    return {
        "changeType": "created,updated,deleted",
        "notificationUrl": endpoint.url,
        "resource": f"users/{ALICE}/events",
        "expirationDateTime": expiring(hours=1),
        "clientState": "a-secret",
        **changes,
    }


def subscribe(client: httpx.Client, endpoint: Endpoint, **changes: Any) -> dict[str, Any]:
    answer = client.post("/subscriptions", json=subscription(endpoint, **changes))
    assert answer.status_code == 201, answer.text
    validation = endpoint.next()
    assert validation.query["validationToken"] and validation.content_type.startswith("text/plain")
    for url in filter(None, [changes.get("lifecycleNotificationUrl")]):
        assert endpoint.next().query["validationToken"], url
    return answer.json()


def test_creation_validates_the_notification_url_first(
    client: httpx.Client, endpoint: Endpoint
) -> None:
    """POST /subscriptions calls the URL with a validationToken (text/plain, spaces and
    colons encoded) and answers 201 with Graph's subscription once the token comes back."""
    created = subscribe(client, endpoint)
    assert created["resource"] == f"users/{ALICE}/events"
    assert created["clientState"] == "a-secret" and created["applicationId"] == CLIENT
    assert created["expirationDateTime"].endswith("Z")
    assert client.get(f"/subscriptions/{created['id']}").json()["id"] == created["id"]
    assert [found["id"] for found in client.get("/subscriptions").json()["value"]] == [
        created["id"]
    ]


@pytest.mark.parametrize(
    ("changes", "code", "words"),
    [
        ({}, "ValidationError", "must respond with 200 OK"),
        ({"notificationUrl": "http://127.0.0.1:9/graph"}, "BadRequest", "must use https"),
        ({"expirationDateTime": lambda: expiring(minutes=-1)}, "BadRequest", "in the future"),
        (
            {"expirationDateTime": lambda: expiring(minutes=10081)},
            "ExtensionError",
            "10080 minutes",
        ),
        ({"changeType": "created,moved"}, "BadRequest", "changeType"),
        ({"resource": f"users/{BOB}/events"}, "ErrorAccessDenied", "AccessPolicy"),
        ({"resource": "users/nobody@contoso.example/events"}, "ErrorInvalidUser", "invalid"),
        ({"clientState": "x" * 129}, "BadRequest", "128"),
    ],
)
def test_refused_subscriptions(
    client: httpx.Client, tls: tuple[Path, Path], changes: dict, code: str, words: str
) -> None:
    """An endpoint that does not echo the token, plain http, an expiration in the past or
    beyond Graph's 10,080 minutes for Outlook events, an unknown change type, a mailbox
    outside the access policy or unknown: Graph's 400 (403, 404) and nothing subscribed.
    Expirations are reckoned when the test runs, not when it was collected (a long suite
    had carried "10,081 minutes from now" back under the limit)."""
    changes = {key: value() if callable(value) else value for key, value in changes.items()}
    endpoint = Endpoint(*tls, echo=bool(changes))
    try:
        answer = client.post("/subscriptions", json=subscription(endpoint, **changes))
    finally:
        endpoint.close()
    error = answer.json()["error"]
    assert answer.status_code in (400, 403, 404) and error["code"] == code, answer.text
    assert words in error["message"]
    assert client.get("/subscriptions").json()["value"] == []


def test_renewal_deletion_and_unknown_ids(client: httpx.Client, endpoint: Endpoint) -> None:
    """PATCH moves the expiration (within the bounds), DELETE ends it; afterwards its id is
    404 for GET, PATCH and DELETE, and a new subscription never reuses it."""
    created = subscribe(client, endpoint)
    path = f"/subscriptions/{created['id']}"
    later = expiring(days=6)
    renewed = client.patch(path, json={"expirationDateTime": later})
    assert renewed.status_code == 200 and renewed.json()["expirationDateTime"][:19] == later[:19]
    too_late = client.patch(path, json={"expirationDateTime": expiring(days=8)})
    assert too_late.status_code == 400
    assert client.delete(path).status_code == 204
    for method in ("GET", "DELETE", "PATCH"):
        gone = client.request(method, path, json={"expirationDateTime": later})
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "ResourceNotFound"
    assert subscribe(client, endpoint)["id"] != created["id"]


def test_event_changes_are_posted_to_the_url(client: httpx.Client, endpoint: Endpoint) -> None:
    """An event created, updated and deleted through the peer: three notifications, in order,
    each with the subscription's id, clientState, change type, resource and tenant."""
    created = subscribe(client, endpoint)
    event = client.post(f"/users/{ALICE}/events", json=EVENT).json()
    client.patch(f"/users/{ALICE}/events/{event['id']}", json={"subject": "Moved"})
    client.delete(f"/users/{ALICE}/events/{event['id']}")
    posted = [endpoint.next().body["value"] for _ in range(3)]
    assert [entry["changeType"] for (entry,) in posted] == ["created", "updated", "deleted"]
    (first,) = posted[0]
    assert first["subscriptionId"] == created["id"] and first["clientState"] == "a-secret"
    assert first["tenantId"] == TENANT and first["resourceData"]["id"] == event["id"]
    assert first["resource"].endswith(f"/Events/{event['id']}")
    assert first["subscriptionExpirationDateTime"] == created["expirationDateTime"]


def test_a_change_made_over_ews_is_notified_too(tls: tuple[Path, Path], endpoint: Endpoint) -> None:
    """The mailbox is one, whichever front writes it (as in Exchange Online): an appointment
    saved through exchangelib (Outlook's side in the demo) is posted as created, with its
    Graph id."""
    emulator = new_emulator()
    emulator.start()
    peer = GraphEmulator(emulator.store, TENANT, CLIENT, SECRET, notification_ca=str(tls[0]))
    peer.start()
    try:
        with graph_client(peer) as client:
            subscribe(client, endpoint)
            item = save_appointment(
                impersonate(emulator), "Visit", EWSDateTime(2026, 11, 25, 10, tzinfo=EWS_UTC)
            )
            (entry,) = endpoint.next().body["value"]
            assert entry["changeType"] == "created"
            found = client.get(f"/users/{ALICE}/events/{entry['resourceData']['id']}")
            assert found.json()["subject"] == "Visit" and item.id
    finally:
        close_connections()
        peer.stop()
        emulator.stop()


def test_a_subscription_listens_to_its_change_types_only(
    client: httpx.Client, endpoint: Endpoint
) -> None:
    """Subscribed to deletions: a created event is not posted, its deletion is."""
    subscribe(client, endpoint, changeType="deleted")
    event = client.post(f"/users/{ALICE}/events", json=EVENT).json()
    client.delete(f"/users/{ALICE}/events/{event['id']}")
    (entry,) = endpoint.next().body["value"]
    assert entry["changeType"] == "deleted"
    with pytest.raises(queue.Empty):
        endpoint.next(timeout=0.3)


def test_expired_and_dropped_subscriptions_stop_with_a_lifecycle_notification(
    client: httpx.Client, endpoint: Endpoint, graph: GraphEmulator
) -> None:
    """At its expiration, or dropped as Graph removes one, a subscription stops notifying;
    one with a lifecycle URL hears ``subscriptionRemoved`` there; its id is then 404."""
    lifecycle = {"lifecycleNotificationUrl": endpoint.url}
    short = subscribe(client, endpoint, expirationDateTime=expiring(seconds=1), **lifecycle)
    (removed,) = endpoint.next().body["value"]
    assert removed["lifecycleEvent"] == "subscriptionRemoved"
    assert removed["subscriptionId"] == short["id"]
    dropped = subscribe(client, endpoint, **lifecycle)
    graph.subscriptions.drop(dropped["id"])
    (removed,) = endpoint.next().body["value"]
    assert (removed["subscriptionId"], removed["lifecycleEvent"]) == (
        dropped["id"],
        "subscriptionRemoved",
    )
    client.post(f"/users/{ALICE}/events", json=EVENT)
    with pytest.raises(queue.Empty):
        endpoint.next(timeout=0.3)
    assert client.get(f"/subscriptions/{dropped['id']}").status_code == 404


class Credential:
    """azure-core's TokenCredential from the peer's token endpoint (see test_graph_sdk)."""

    def __init__(self, token_url: str) -> None:
        self.token_url = token_url

    def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        form = {"grant_type": "client_credentials", "client_id": CLIENT, "client_secret": SECRET}
        token = httpx.post(self.token_url, data=form | {"scope": " ".join(scopes)}).json()
        return AccessToken(token["access_token"], int(token["expires_in"]) + 10**9)


async def test_the_official_sdk_creates_renews_and_deletes_a_subscription(
    graph: GraphEmulator, endpoint: Endpoint
) -> None:
    """msgraph-sdk's subscriptions.post, by_subscription_id().patch and .delete: the peer
    understands the SDK's shapes and the SDK reads the peer's."""
    auth = AzureIdentityAuthenticationProvider(
        Credential(graph.token_url), allowed_hosts=["127.0.0.1"]
    )
    adapter = GraphRequestAdapter(auth)
    adapter.base_url = graph.url
    service = GraphServiceClient(request_adapter=adapter)
    try:
        expiration = datetime.now(UTC) + timedelta(days=2)
        created = await service.subscriptions.post(
            Subscription(
                change_type="created,updated,deleted",
                notification_url=endpoint.url,
                resource=f"users/{ALICE}/events",
                expiration_date_time=expiration,
                client_state="sdk-secret",
            )
        )
        assert created.id and created.client_state == "sdk-secret"
        assert abs((created.expiration_date_time - expiration).total_seconds()) < 1
        renewed = await service.subscriptions.by_subscription_id(created.id).patch(
            Subscription(expiration_date_time=expiration + timedelta(days=1))
        )
        assert renewed.expiration_date_time > created.expiration_date_time
        await service.subscriptions.by_subscription_id(created.id).delete()
        assert graph.subscriptions.all() == []
    finally:
        await adapter._http_client.aclose()
