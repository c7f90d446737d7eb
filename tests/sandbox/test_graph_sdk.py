"""The Graph emulator driven by Microsoft's own ``msgraph-sdk``: every call the engine makes
(engine/exchange/mailbox/graph*.py) and the common ones a Graph client makes, as the SDK makes them.

The SDK is pointed at the emulator by its request adapter's base URL; it signs in through a
small azure-core ``TokenCredential`` of this test's own that asks the emulator's token
endpoint with client credentials (azure-identity's credentials would first look Entra ID up
on the network).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from azure.core.credentials import AccessToken
from exchangelib.protocol import close_connections
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.headers_collection import HeadersCollection
from kiota_abstractions.request_information import RequestInformation
from kiota_abstractions.serialization import Parsable
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from kiota_serialization_json.json_parse_node_factory import JsonParseNodeFactory
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.groups.item.transitive_members.graph_user.graph_user_request_builder import (
    GraphUserRequestBuilder,
)
from msgraph.generated.models.body_type import BodyType
from msgraph.generated.models.contact import Contact
from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone
from msgraph.generated.models.email_address import EmailAddress
from msgraph.generated.models.event import Event
from msgraph.generated.models.item_body import ItemBody
from msgraph.generated.models.message import Message
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.recipient import Recipient
from msgraph.generated.models.single_value_legacy_extended_property import (
    SingleValueLegacyExtendedProperty,
)
from msgraph.generated.users.item.calendar.calendar_request_builder import (
    CalendarRequestBuilder,
)
from msgraph.generated.users.item.calendar_view.delta.delta_get_response import (
    DeltaGetResponse as CalendarDeltaPage,
)
from msgraph.generated.users.item.calendar_view.delta.delta_request_builder import (
    DeltaRequestBuilder as CalendarDelta,
)
from msgraph.generated.users.item.contacts.delta.delta_get_response import (
    DeltaGetResponse as ContactsDeltaPage,
)
from msgraph.generated.users.item.contacts.delta.delta_request_builder import (
    DeltaRequestBuilder as ContactsDelta,
)
from msgraph.generated.users.item.events.item.event_item_request_builder import (
    EventItemRequestBuilder,
)
from msgraph.generated.users.item.send_mail.send_mail_post_request_body import (
    SendMailPostRequestBody,
)
from msgraph_core.requests.batch_request_content import BatchRequestContent
from msgraph_core.requests.batch_request_item import BatchRequestItem

from engine.exchange.mailbox.graph_items import STAMP_PROPERTY
from engine.sandbox.ews import EwsEmulator
from engine.sandbox.ews.xml import t
from engine.sandbox.graph import GraphEmulator
from engine.settings.adsync import ENTRA_ID_PERMISSIONS
from tests.sandbox.peer import ALICE, new_emulator

TENANT = "0b7e5c1a-3f4d-4e2a-9c8b-1d2e3f4a5b6c"
CLIENT = "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"
SECRET = "graph~S3cret"
WINDOW = ("2026-11-23T00:00:00Z", "2026-12-07T00:00:00Z")


class EmulatorCredential:
    """azure-core's ``TokenCredential``: a client-credentials token from the emulator's
    token endpoint, as ``ClientSecretCredential`` gets one from Entra ID."""

    def __init__(self, token_url: str) -> None:
        self.token_url = token_url
        self.issued = 0

    def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        answer = httpx.post(
            self.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": CLIENT,
                "client_secret": SECRET,
                "scope": " ".join(scopes),
            },
        )
        answer.raise_for_status()
        token = answer.json()
        self.issued += 1
        return AccessToken(token["access_token"], int(time.time()) + int(token["expires_in"]))


@pytest.fixture
def graph() -> Iterator[GraphEmulator]:
    emulator: EwsEmulator = new_emulator()
    peer = GraphEmulator(emulator.store, TENANT, CLIENT, SECRET)
    peer.start()
    yield peer
    peer.stop()
    close_connections()
    emulator.stop()


@pytest.fixture
def credential(graph: GraphEmulator) -> EmulatorCredential:
    return EmulatorCredential(graph.token_url)


@pytest.fixture
async def service(graph: GraphEmulator, credential: EmulatorCredential) -> AsyncIterator[Any]:
    """The SDK's client, its base URL the emulator's."""
    auth = AzureIdentityAuthenticationProvider(credential, allowed_hosts=["127.0.0.1"])
    adapter = GraphRequestAdapter(auth)
    adapter.base_url = graph.url
    yield GraphServiceClient(request_adapter=adapter)
    await adapter._http_client.aclose()


@pytest.fixture
def sdk(service: GraphServiceClient) -> Any:
    """The SDK's client for Alice's mailbox (``users/{id}``)."""
    return service.users.by_user_id(ALICE)


def config(query: Any = None, **headers: str) -> RequestConfiguration:
    collection = HeadersCollection()
    for name, value in headers.items():
        collection.add(name.replace("_", "-"), value)
    return RequestConfiguration(headers=collection, query_parameters=query)


def utc(moment: str) -> DateTimeTimeZone:
    return DateTimeTimeZone(date_time=moment, time_zone="UTC")


def new_event(subject: str, day: int = 25, **fields: Any) -> Event:
    return Event(
        subject=subject,
        start=utc(f"2026-11-{day:02d}T10:00:00"),
        end=utc(f"2026-11-{day:02d}T11:00:00"),
        **fields,
    )


async def calendar_round(sdk: Any, link: str | None = None) -> tuple[list[Event], str, int]:
    """A calendarView delta round in pages of 2: its events, deltaLink and page count."""
    paged = config(Prefer="odata.maxpagesize=2")
    if link is None:
        query = CalendarDelta.DeltaRequestBuilderGetQueryParameters(
            start_date_time=WINDOW[0], end_date_time=WINDOW[1]
        )
        page = await sdk.calendar_view.delta.get(config(query, Prefer="odata.maxpagesize=2"))
    else:
        page = await sdk.calendar_view.delta.with_url(link).get(paged)
    events, pages = list(page.value), 1
    while page.odata_next_link:
        page = await sdk.calendar_view.delta.with_url(page.odata_next_link).get(paged)
        events += page.value
        pages += 1
    assert page.odata_delta_link
    return events, page.odata_delta_link, pages


def refusal(error: pytest.ExceptionInfo[ODataError]) -> tuple[int, str, str]:
    found = error.value
    return found.response_status_code, found.error.code, found.error.message


# -- the calls the engine makes ------------------------------------------------------------


async def test_token_and_the_calendar_folder(sdk: Any, credential: EmulatorCredential) -> None:
    """The app's token (client credentials, scope ``.default``) and GET users/{id}/calendar,
    the engine's access check."""
    calendar = await sdk.calendar.get()
    assert calendar.name == "Calendar" and calendar.id and credential.issued == 1


async def test_the_calendar_folder_honours_select(sdk: Any) -> None:
    """``$select=id`` (what the engine asks) gives the id alone, never an ignored option."""
    query = CalendarRequestBuilder.CalendarRequestBuilderGetQueryParameters(select=["id"])
    calendar = await sdk.calendar.get(config(query))
    assert calendar.id and calendar.name is None


async def test_calendar_view_delta_pages_to_its_delta_link(sdk: Any) -> None:
    """calendarView/delta() (the SDK's function-call form) pages by nextLink to a deltaLink;
    the deltaLink's round reports what changed since."""
    created = [await sdk.events.post(new_event(f"Visit {day}", day)) for day in (24, 25, 26)]
    events, link, pages = await calendar_round(sdk)
    assert {event.id for event in events} == {event.id for event in created} and pages == 2
    await sdk.events.by_event_id(created[0].id).patch(Event(subject="Visit moved"))
    changed, _, _ = await calendar_round(sdk, link)
    assert [(event.id, event.subject) for event in changed] == [(created[0].id, "Visit moved")]


async def test_events_are_created_patched_with_their_etag_and_deleted(sdk: Any) -> None:
    """Written as the engine writes them; the deleted one leaves the calendar's view."""
    event = await sdk.events.post(new_event("Site visit"))
    _, link, _ = await calendar_round(sdk)
    item = sdk.events.by_event_id(event.id)
    patched = await item.patch(
        Event(subject="Site visit (moved)"), config(If_Match=f'W/"{event.change_key}"')
    )
    assert patched.subject == "Site visit (moved)" and patched.change_key != event.change_key
    await item.delete()
    (removed,) = (await calendar_round(sdk, link))[0]
    assert removed.id == event.id and removed.additional_data["@removed"]


async def test_a_stale_etag_is_refused_with_412(sdk: Any) -> None:
    event = await sdk.events.post(new_event("Review"))
    await sdk.events.by_event_id(event.id).patch(Event(subject="Review (a person's edit)"))
    with pytest.raises(ODataError) as stale:
        await sdk.events.by_event_id(event.id).patch(
            Event(subject="Review (ours)"), config(If_Match=f'W/"{event.change_key}"')
        )
    assert refusal(stale)[:2] == (412, "ErrorIrresolvableConflict")


async def test_the_stamp_is_a_single_value_extended_property(sdk: Any) -> None:
    """Written on create, read with ``$select=id`` and a filtered ``$expand``."""
    stamp = SingleValueLegacyExtendedProperty(id=STAMP_PROPERTY, value="appointment:7")
    event = await sdk.events.post(new_event("Stamped", single_value_extended_properties=[stamp]))
    query = EventItemRequestBuilder.EventItemRequestBuilderGetQueryParameters(
        select=["id"],
        expand=[f"singleValueExtendedProperties($filter=id eq '{STAMP_PROPERTY}')"],
    )
    found = await sdk.events.by_event_id(event.id).get(config(query))
    (read,) = found.single_value_extended_properties
    assert (read.id, read.value) == (STAMP_PROPERTY, "appointment:7")


async def test_bodies_are_read_as_text_on_request(sdk: Any) -> None:
    html = ItemBody(content_type=BodyType.Html, content="<p>Bring the <b>quote</b></p>")
    event = await sdk.events.post(new_event("With body", body=html))
    query = EventItemRequestBuilder.EventItemRequestBuilderGetQueryParameters(
        select=["body", "sensitivity"]
    )
    found = await sdk.events.by_event_id(event.id).get(
        config(query, Prefer='outlook.body-content-type="text"')
    )
    assert (found.body.content_type, found.body.content) == (BodyType.Text, "Bring the quote")


def relative(
    request: RequestInformation, graph: GraphEmulator, request_id: str
) -> BatchRequestItem:
    """A batch item with its URL relative to the version, as Graph requires: the SDK's item
    keeps the request's absolute URL (msgraph-sdk-python issue 1015), so it is cut here."""
    item = BatchRequestItem(request, id=request_id)
    item.url = item.url.removeprefix(graph.url)
    return item


async def batch_bodies(client: GraphServiceClient, content: BatchRequestContent) -> dict:
    """Request id -> JSON body of the batch's answers, the batch sent by the SDK's builder
    and adapter: its batch response reads a JSON body as base64 bytes (None), so the outer
    answer is read raw."""
    request = await client.batch.to_post_request_information(content)
    raw = await client.request_adapter.send_primitive_async(request, "bytes", {})
    return {answer["id"]: answer["body"] for answer in json.loads(raw)["responses"]}


def parsed(body: dict, kind: type[Parsable]) -> Any:
    """A JSON body as the SDK's model."""
    node = JsonParseNodeFactory().get_root_parse_node("application/json", json.dumps(body).encode())
    return node.get_object_value(kind)


async def test_a_batch_runs_each_request_in_order(sdk: Any, graph: GraphEmulator) -> None:
    events = [await sdk.events.post(new_event(f"Batched {n}", 24 + n)) for n in range(2)]
    content = BatchRequestContent()
    builders = [sdk.events.by_event_id(event.id) for event in events]
    builders.append(sdk.events.by_event_id("missing"))
    for n, builder in enumerate(builders):
        content.add_request(str(n), relative(builder.to_get_request_information(), graph, str(n)))
    client = GraphServiceClient(request_adapter=sdk.request_adapter)
    answer = await client.batch.post(content)
    statuses = answer.get_response_status_codes()
    assert sorted(statuses.values()) == [200, 200, 404]
    assert graph.stats.by_operation["$batch"] == 1


async def test_idle_delta_checks_in_one_batch_answer_as_alone(
    sdk: Any, graph: GraphEmulator
) -> None:
    """The engine's idle check: the calendar's and the contacts' delta links in one batch,
    read with the SDK's own batch support; each answers what the same GET answers, and a
    request throttled inside the batch carries its 429 and Retry-After."""
    await sdk.events.post(new_event("Known"))
    await sdk.contacts.post(Contact(given_name="Ada", surname="Lovelace"))
    _, calendar_link, _ = await calendar_round(sdk)
    contacts_link = (await sdk.contacts.delta.get()).odata_delta_link
    await sdk.events.post(new_event("New since", 26))
    prefer = config(Prefer='odata.maxpagesize=10, outlook.timezone="UTC"')
    content = BatchRequestContent()
    for request_id, builder in (
        ("calendar", sdk.calendar_view.delta.with_url(calendar_link)),
        ("contacts", sdk.contacts.delta.with_url(contacts_link)),
    ):
        request = builder.to_get_request_information(prefer)
        content.add_request(request_id, relative(request, graph, request_id))
    client = GraphServiceClient(request_adapter=sdk.request_adapter)
    answer = await client.batch.post(content)
    assert answer.get_response_status_codes() == {"calendar": 200, "contacts": 200}
    bodies = await batch_bodies(client, content)
    calendar = parsed(bodies["calendar"], CalendarDeltaPage)
    alone = await sdk.calendar_view.delta.with_url(calendar_link).get(prefer)
    assert [event.subject for event in calendar.value] == ["New since"]
    assert [e.id for e in calendar.value] == [e.id for e in alone.value]
    assert calendar.odata_delta_link == alone.odata_delta_link
    contacts = parsed(bodies["contacts"], ContactsDeltaPage)
    assert contacts.value == [] and contacts.odata_delta_link
    graph.throttle(1, retry_after=7)
    throttled = await client.batch.post(content)
    assert throttled.get_response_status_codes() == {"calendar": 429, "contacts": 200}
    assert throttled.get_response_by_id("calendar").headers["Retry-After"] == "7"


async def test_contacts_delta_in_its_function_call_form(sdk: Any) -> None:
    """contacts/delta() with the engine's ``$select`` lists the contacts, then a deltaLink."""
    made = await sdk.contacts.post(Contact(given_name="Ada", surname="Lovelace"))
    query = ContactsDelta.DeltaRequestBuilderGetQueryParameters(
        select=["givenName", "surname", "companyName", "emailAddresses"]
    )
    page = await sdk.contacts.delta.get(config(query))
    assert [(c.id, c.given_name) for c in page.value] == [(made.id, "Ada")]
    assert page.odata_delta_link and not page.odata_next_link


async def test_contacts_are_created_patched_and_deleted(sdk: Any) -> None:
    contact = await sdk.contacts.post(
        Contact(
            given_name="Grace",
            surname="Hopper",
            company_name="Navy",
            email_addresses=[EmailAddress(address="grace@navy.example", name="Grace Hopper")],
            business_phones=["+1 555 0100"],
        )
    )
    item = sdk.contacts.by_contact_id(contact.id)
    patched = await item.patch(Contact(job_title="Rear Admiral"))
    assert (patched.job_title, patched.company_name) == ("Rear Admiral", "Navy")
    await item.delete()
    assert not (await sdk.contacts.delta.get()).value


async def test_send_mail_from_the_service_mailbox(sdk: Any, graph: GraphEmulator) -> None:
    body = SendMailPostRequestBody(
        message=Message(
            subject="msext: 2 users need attention",
            body=ItemBody(content_type=BodyType.Text, content="See the console."),
            to_recipients=[Recipient(email_address=EmailAddress(address="admin@contoso.example"))],
        ),
        save_to_sent_items=True,
    )
    await sdk.send_mail.post(body)
    ((mailbox, _, message),) = graph.state.store.sent()
    assert mailbox == ALICE and message.findtext(t("Subject")) == "msext: 2 users need attention"


# -- the common calls beyond the engine's path ----------------------------------------------


async def test_prefer_outlook_timezone_gives_times_in_that_zone(sdk: Any) -> None:
    """``Prefer: outlook.timezone`` (a Windows or an IANA name) is honoured in what comes
    back, on a GET as on a delta page."""
    event = await sdk.events.post(new_event("Zoned", 25))
    for zone, local in (
        ("W. Europe Standard Time", "2026-11-25T11:00:00.0000000"),
        ("America/New_York", "2026-11-25T05:00:00.0000000"),
    ):
        found = await sdk.events.by_event_id(event.id).get(
            config(Prefer=f'outlook.timezone="{zone}"')
        )
        assert (found.start.time_zone, found.start.date_time) == (zone, local)
    query = CalendarDelta.DeltaRequestBuilderGetQueryParameters(
        start_date_time=WINDOW[0], end_date_time=WINDOW[1]
    )
    page = await sdk.calendar_view.delta.get(
        config(query, Prefer='outlook.timezone="Pacific Standard Time"')
    )
    (listed,) = page.value
    assert (listed.end.time_zone, listed.end.date_time) == (
        "Pacific Standard Time",
        "2026-11-25T03:00:00.0000000",
    )


async def test_an_unknown_preferred_timezone_is_refused_by_name(sdk: Any) -> None:
    event = await sdk.events.post(new_event("Zoned"))
    with pytest.raises(ODataError) as refused:
        await sdk.events.by_event_id(event.id).get(config(Prefer='outlook.timezone="Mars/Base"'))
    assert refusal(refused)[0] in (400, 501) and "Mars/Base" in refusal(refused)[2]


async def test_a_contact_gets_a_display_name_from_its_names(sdk: Any) -> None:
    """Exchange composes the display name from the given name and surname when none is
    given; changing a name later does not overwrite a display name."""
    contact = await sdk.contacts.post(Contact(given_name="Ada", surname="Lovelace"))
    assert contact.display_name == "Ada Lovelace"
    named = await sdk.contacts.post(
        Contact(given_name="Grace", surname="Hopper", display_name="Amazing Grace")
    )
    assert named.display_name == "Amazing Grace"
    only = await sdk.contacts.post(Contact(surname="Turing"))
    assert only.display_name == "Turing"


async def test_subjects_are_cut_to_255_characters(sdk: Any) -> None:
    event = await sdk.events.post(new_event("x" * 300))
    assert event.subject == "x" * 255
    patched = await sdk.events.by_event_id(event.id).patch(Event(subject="y" * 256))
    assert patched.subject == "y" * 255


async def test_what_the_emulator_lacks_is_a_501_naming_it(sdk: Any) -> None:
    """An option the emulator does not implement is refused by name, never ignored (an
    ignored ``$top`` or ``$filter`` would be a silently wrong result)."""
    query = ContactsDelta.DeltaRequestBuilderGetQueryParameters(top=5)
    with pytest.raises(ODataError) as top:
        await sdk.contacts.delta.get(config(query))
    assert refusal(top)[:2] == (501, "NotImplemented") and "$top" in refusal(top)[2]
    query = ContactsDelta.DeltaRequestBuilderGetQueryParameters(filter="surname eq 'X'")
    with pytest.raises(ODataError) as filtered:
        await sdk.contacts.delta.get(config(query))
    assert refusal(filtered)[0] == 400 and "$filter" in refusal(filtered)[2]
    with pytest.raises(ODataError) as immutable:
        await sdk.calendar.get(config(Prefer='IdType="ImmutableId"'))
    assert refusal(immutable)[0] == 501 and "ImmutableId" in refusal(immutable)[2]


# -- the directory AD Sync reads -----------------------------------------------------------


async def test_a_groups_transitive_users_with_select_and_paging(
    service: GraphServiceClient, graph: GraphEmulator
) -> None:
    """``groups/{id}/transitiveMembers/graph.user`` as the SDK sends it (the cast by Graph's
    alias), ``$select`` and ``$top``, then each ``@odata.nextLink``: every user of the
    nested groups once, disabled ones flagged, nothing but what was selected."""
    for role in ENTRA_ID_PERMISSIONS:
        graph.grant_role(role)
    tenant = graph.tenant
    staff, sales = tenant.add_group("Staff"), tenant.add_group("Sales")
    tenant.add_member(staff, sales)
    tenant.add_member(sales, staff)
    for number in range(5):
        user = tenant.add_user(f"u{number}@contoso.example", givenName=f"U{number}")
        tenant.add_member(staff if number % 2 else sales, user)
        tenant.add_member(sales, user)
    tenant.update_user(user, accountEnabled=False)
    query = GraphUserRequestBuilder.GraphUserRequestBuilderGetQueryParameters(
        select=["id", "givenName", "accountEnabled"], top=2
    )
    members = service.groups.by_group_id(staff).transitive_members.graph_user
    page = await members.get(config(query))
    users, pages = list(page.value), 1
    while page.odata_next_link:
        page = await members.with_url(page.odata_next_link).get()
        users += page.value
        pages += 1
    assert pages == 3 and sorted(found.given_name for found in users) == [
        f"U{number}" for number in range(5)
    ]
    assert [found.given_name for found in users if not found.account_enabled] == ["U4"]
    assert all(found.mail is None and found.user_principal_name is None for found in users)

    missing = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(ODataError) as absent:
        await service.groups.by_group_id(missing).transitive_members.graph_user.get()
    assert refusal(absent)[:2] == (404, "Request_ResourceNotFound")


async def test_a_group_without_its_permission_is_refused_to_the_sdk(
    service: GraphServiceClient, graph: GraphEmulator
) -> None:
    """A token without GroupMember.Read.All (the mailbox roles only) gets Graph's 403
    Authorization_RequestDenied for a group that exists."""
    staff = graph.tenant.add_group("Staff")
    with pytest.raises(ODataError) as denied:
        await service.groups.by_group_id(staff).transitive_members.graph_user.get()
    assert refusal(denied) == (
        403,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    )
