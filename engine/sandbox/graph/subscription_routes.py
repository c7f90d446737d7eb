"""The ``/subscriptions`` routes: create (checked, then validated against its URLs), list,
get, renew (PATCH) and delete, over :class:`~engine.sandbox.graph.subscriptions.Subscriptions`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from engine.sandbox.graph import directory
from engine.sandbox.graph.errors import (
    GraphError,
    bad_request,
    invalid_user,
    policy_denied,
    role_denied,
)
from engine.sandbox.graph.fields import check_properties
from engine.sandbox.graph.notifier import Notifier
from engine.sandbox.graph.request import Call, Reply
from engine.sandbox.graph.subscriptions import (
    CHANGE_TYPES,
    COLLECTIONS,
    MAX_CLIENT_STATE,
    MAX_MINUTES,
    Subscription,
)

_CREATED = frozenset(
    {
        "changeType",
        "notificationUrl",
        "lifecycleNotificationUrl",
        "resource",
        "expirationDateTime",
        "clientState",
        "latestSupportedTlsVersion",
    }
)
_RENEWED = frozenset({"expirationDateTime"})


def create(call: Call) -> Reply:
    """POST /subscriptions: checked, then validated against its URLs, then live."""
    call.request.options(())
    body = call.request.json_object()
    check_properties(body, _CREATED, "subscription")
    for required in ("changeType", "notificationUrl", "resource", "expirationDateTime"):
        if not isinstance(body.get(required), str) or not body[required]:
            raise bad_request(f"The subscription property '{required}' is required.")
    mailbox, collection = _resource(call, body["resource"])
    change_type = _change_type(body["changeType"])
    expiration = _expiration(body["expirationDateTime"])
    client_state = body.get("clientState")
    if client_state is not None and (
        not isinstance(client_state, str) or len(client_state) > MAX_CLIENT_STATE
    ):
        raise bad_request(
            f"The clientState must be a string of at most {MAX_CLIENT_STATE} characters."
        )
    urls = [body["notificationUrl"], body.get("lifecycleNotificationUrl")]
    registry = call.state.subscriptions
    for url in filter(None, urls):
        _validated(registry.notifier, url)
    subscription = Subscription(
        id=str(uuid.uuid4()),
        resource=body["resource"],
        mailbox=mailbox,
        collection=collection,
        change_type=change_type,
        notification_url=urls[0],
        lifecycle_url=urls[1],
        client_state=client_state,
        expiration=expiration,
        application_id=call.state.app.client_id,
    )
    registry.add(subscription)
    return Reply(201, {**_context(call, "subscriptions/$entity"), **subscription.json()})


def get(call: Call) -> Reply:
    call.request.options(())
    found = call.state.subscriptions.get(call.item_id)
    return Reply(200, {**_context(call, "subscriptions/$entity"), **found.json()})


def list_all(call: Call) -> Reply:
    call.request.options(())
    value = [found.json() for found in call.state.subscriptions.all()]
    return Reply(200, {**_context(call, "subscriptions"), "value": value})


def update(call: Call) -> Reply:
    """PATCH: a new expiration (which also reauthorizes the subscription)."""
    call.request.options(())
    body = call.request.json_object()
    check_properties(body, _RENEWED, "subscription")
    registry = call.state.subscriptions
    registry.get(call.item_id)
    expiration = _expiration(body.get("expirationDateTime"))
    renewed = registry.renew(call.item_id, expiration)
    return Reply(200, {**_context(call, "subscriptions/$entity"), **renewed.json()})


def delete(call: Call) -> Reply:
    call.request.options(())
    call.state.subscriptions.delete(call.item_id)
    return Reply(204)


def _resource(call: Call, resource: str) -> tuple[str, str]:
    """(mailbox, collection) of ``users/{id or address}/events`` or ``.../contacts``; the
    mailbox must be in the application access policy's scope and the token hold the
    collection's permission."""
    segments = [part for part in resource.split("/") if part]
    if (
        len(segments) != 3
        or segments[0].lower() != "users"
        or segments[2].lower() not in COLLECTIONS
    ):
        raise bad_request(
            f"The resource '{resource}' is not supported: the emulator notifies"
            " users/{id}/events and users/{id}/contacts."
        )
    mailbox = call.state.store.mailbox(segments[1])
    if mailbox is None:
        raise invalid_user(segments[1])
    if not mailbox.granted:
        raise policy_denied()
    collection = segments[2].lower()
    if not directory.granted(call.roles, COLLECTIONS[collection][1]):
        raise role_denied()
    return mailbox.address, collection


def _change_type(value: str) -> str:
    kinds = [kind.strip() for kind in value.split(",")]
    unknown = [kind for kind in kinds if kind not in CHANGE_TYPES]
    if unknown or not kinds:
        raise bad_request(
            f"The changeType '{value}' is not valid: use created, updated and/or deleted,"
            " separated by commas."
        )
    return ",".join(kinds)


def _expiration(value: Any) -> datetime:
    if not isinstance(value, str):
        raise bad_request("The subscription property 'expirationDateTime' is required.")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise bad_request(f"The expirationDateTime '{value}' is not a date and time.") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    now = datetime.now(UTC)
    if moment <= now:
        raise bad_request("Subscription expiration date and time must be in the future.")
    if moment > now + timedelta(minutes=MAX_MINUTES):
        raise GraphError(
            400,
            "ExtensionError",
            "Operation: Create; Exception: [Status Code: BadRequest; Reason: Subscription"
            f" expiration can only be {MAX_MINUTES} minutes in the future.]",
        )
    return moment.astimezone(UTC)


def _validated(notifier: Notifier, url: str) -> None:
    if urlsplit(url).scheme != "https":
        raise bad_request(f"The notification URL '{url}' must use https.")
    if not notifier.validate(url):
        raise GraphError(
            400,
            "ValidationError",
            "Subscription validation request failed. Notification endpoint must respond with"
            " 200 OK to validation request.",
        )


def _context(call: Call, path: str) -> dict[str, str]:
    return {"@odata.context": f"{call.state.url}/$metadata#{path}"}
