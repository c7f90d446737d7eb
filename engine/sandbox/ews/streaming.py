"""Subscribe, Unsubscribe and GetStreamingEvents: streaming notifications, as Exchange
answers them (see :mod:`engine.sandbox.ews.notifications` for the limits).

GetStreamingEvents is one HTTP answer that stays open for the request's ConnectionTimeout
(1 to 30 minutes): a SOAP envelope per batch of notifications, a keep-alive envelope
(ConnectionStatus OK) when nothing happened for a while, and a last envelope with
ConnectionStatus Closed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from engine.sandbox.ews.items import UnsupportedError
from engine.sandbox.ews.notifications import (
    EVENT_TYPES,
    SUBSCRIBABLE_FOLDERS,
    Event,
    Stream,
    SubscriptionRefusedError,
)
from engine.sandbox.ews.operations import Context, per_message, resolve_folder
from engine.sandbox.ews.soap import EwsError, error, response, success
from engine.sandbox.ews.store import Store, folder_id
from engine.sandbox.ews.xml import format_datetime, local, m, sub, t

COOKIE = "X-BackEndOverrideCookie"


def subscribe(ctx: Context, request: ET.Element) -> ET.Element:
    """A streaming subscription to folders of one mailbox; the response sets the affinity
    cookie when the request asks for affinity without one."""
    wanted = request.find(m("StreamingSubscriptionRequest"))
    if wanted is None:
        kind = local(next(iter(request)).tag) if len(request) else "an empty request"
        raise UnsupportedError(f"Subscribe with {kind} (only streaming subscriptions)")
    notifications = ctx.notifications

    def run() -> list[ET.Element]:
        mailbox, folders = _subscribed_folders(ctx, wanted)
        event_types = [element.text or "" for element in wanted.iter(t("EventType"))]
        for event_type in event_types:
            if event_type not in EVENT_TYPES:
                raise UnsupportedError(f"{event_type} notifications")
        server = notifications.route(ctx.routing, mailbox)
        if ctx.routing.prefer_affinity and notifications.cookie_server(ctx.routing) is None:
            cookie = notifications.cookie_for(server)
            ctx.reply_headers.append(("Set-Cookie", f"{COOKIE}={cookie}; path=/; HttpOnly"))
        created = notifications.subscribe(ctx.principal, mailbox, folders, event_types, server)
        identifier = ET.Element(m("SubscriptionId"))
        identifier.text = created.id
        return [identifier]

    return per_message("Subscribe", ctx, [run])


def _subscribed_folders(ctx: Context, wanted: ET.Element) -> tuple[str, set[str]]:
    """(mailbox, folders) of a subscription request: one mailbox, as Exchange requires."""
    if wanted.get("SubscribeToAllFolders", "false").lower() in ("true", "1"):
        return ctx.target, set(SUBSCRIBABLE_FOLDERS)
    resolved = [resolve_folder(ctx, element) for element in wanted.find(t("FolderIds")) or []]
    mailboxes = {mailbox for mailbox, _ in resolved}
    if len(mailboxes) != 1:
        raise EwsError(
            "ErrorInvalidSubscriptionRequest",
            "A subscription covers folders of a single mailbox.",
        )
    for _, name in resolved:
        if name not in SUBSCRIBABLE_FOLDERS:
            raise UnsupportedError(f"notifications for the folder {name!r}")
    return mailboxes.pop(), {name for _, name in resolved}


def unsubscribe(ctx: Context, request: ET.Element) -> ET.Element:
    subscription_id = request.findtext(m("SubscriptionId")) or ""

    def run() -> list[ET.Element]:
        ctx.notifications.unsubscribe(ctx.principal, subscription_id)
        return []

    return per_message("Unsubscribe", ctx, [run])


def open_stream(ctx: Context, request: ET.Element) -> Stream | ET.Element:
    """The stream a GetStreamingEvents asks for, or the error message answered instead
    (one envelope, ConnectionStatus Closed)."""
    ids = [element.text or "" for element in request.iter(t("SubscriptionId"))]
    minutes_text = request.findtext(m("ConnectionTimeout")) or ""
    notifications = ctx.notifications
    try:
        minutes = int(minutes_text)
        if not 1 <= minutes <= 30:
            raise ValueError(minutes_text)
    except ValueError:
        return _refused(
            EwsError("ErrorInvalidRequest", "ConnectionTimeout is between 1 and 30 minutes.")
        )
    server = notifications.route(ctx.routing, ctx.target)
    try:
        return notifications.open(ctx.principal, ctx.target, ids, server, minutes)
    except EwsError as failure:
        return _refused(failure)


def _refused(failure: EwsError) -> ET.Element:
    message = error("GetStreamingEvents", failure)
    if isinstance(failure, SubscriptionRefusedError):
        refused = sub(message, m("ErrorSubscriptionIds"))
        for subscription_id in failure.ids:
            sub(refused, t("SubscriptionId"), subscription_id)
    sub(message, m("ConnectionStatus"), "Closed")
    return response("GetStreamingEvents", [message])


def answers(stream: Stream, clock: Callable[[], float]) -> Iterator[ET.Element]:
    """The envelopes' bodies of one stream, as they become due; the stream is released
    when the generator ends or is closed (the client went away)."""
    hub = stream.hub
    keep_alive = hub.limits.keep_alive_seconds
    try:
        quiet_since = clock()
        while not hub.closed:
            batches = stream.take()
            if batches:
                yield _message(notifications=_notifications(batches, hub.store))
                quiet_since = clock()
            now = clock()
            if now >= stream.ends or not stream.subscriptions:
                yield _message(status="Closed")
                return
            if now - quiet_since >= keep_alive:
                yield _message(status="OK")
                quiet_since = now
            stream.wait(min(stream.ends - now, keep_alive - (now - quiet_since)))
    finally:
        hub.release(stream)


def _message(notifications: ET.Element | None = None, status: str | None = None) -> ET.Element:
    """A batch of notifications, or a connection status (keep-alive OK, or Closed)."""
    message = success("GetStreamingEvents")
    if notifications is not None:
        message.append(notifications)
    if status is not None:
        sub(message, m("ConnectionStatus"), status)
    return response("GetStreamingEvents", [message])


def _notifications(batches: list[tuple[str, list[Event]]], store: Store) -> ET.Element:
    container = ET.Element(m("Notifications"))
    for subscription_id, events in batches:
        notification = sub(container, t("Notification"))
        sub(notification, t("SubscriptionId"), subscription_id)
        notification.extend(_event(event, store) for event in events)
    return container


def _event(event: Event, store: Store) -> ET.Element:
    change = event.change
    element = ET.Element(t(event.kind))
    sub(element, t("TimeStamp"), change.at or format_datetime(datetime.now(UTC)))
    parent, old_parent = change.folder, None
    if event.kind == "MovedEvent":
        source = change.folder if change.kind == "delete" else change.other_folder
        parent = change.other_folder if change.kind == "delete" else change.folder
        old_parent = source
    current = store.get(change.item_id) if change.kind != "delete" else None
    change_key = current.change_key if current is not None else "AQAAAA=="
    sub(element, t("ItemId"), Id=change.item_id, ChangeKey=change_key)
    sub(element, t("ParentFolderId"), Id=folder_id(event.mailbox, parent or ""))
    if old_parent is not None:
        sub(element, t("OldItemId"), Id=change.item_id, ChangeKey="AQAAAA==")
        sub(element, t("OldParentFolderId"), Id=folder_id(event.mailbox, old_parent))
    return element


OPERATIONS: dict[str, Callable[[Context, ET.Element], ET.Element]] = {
    "Subscribe": subscribe,
    "Unsubscribe": unsubscribe,
}
