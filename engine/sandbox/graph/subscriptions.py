"""``/subscriptions``: change notifications of a mailbox's events or contacts, as Microsoft
Graph keeps them.

A creation is refused unless the notification URL (and the lifecycle URL, if given) is
https and echoes Graph's validation token within 10 s; its expiration must lie in the
future and within Graph's maximum for Outlook resources (10,080 minutes). PATCH renews,
DELETE ends; ids are never reused, and an unknown or expired id is 404. While a
subscription lives, every event (or contact) created, updated or deleted through the peer
is posted to its URL; when it expires or is dropped (:meth:`Subscriptions.drop`, as Graph
removes one) it stops notifying, and a ``subscriptionRemoved`` lifecycle notification goes
to its lifecycle URL if it has one. Changes are read from the store's change log, so what
the EWS front (Outlook, in the demo) writes is notified as Exchange Online notifies it.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from engine.sandbox.ews.store import Store
from engine.sandbox.graph.errors import GraphError
from engine.sandbox.graph.ids import to_graph
from engine.sandbox.graph.notifier import Delivery, Notifier
from engine.sandbox.graph.tenant import object_id
from engine.settings.model import CALENDARS_PERMISSION, CONTACTS_PERMISSION

MAX_MINUTES = 10080
"""Graph's longest subscription to Outlook events and personal contacts (under 7 days)."""
CHANGE_TYPES = ("created", "updated", "deleted")
MAX_CLIENT_STATE = 128
_FOLDERS = {"calendar": "events", "contacts": "contacts"}
_CHANGE_TYPES = {"create": "created", "update": "updated", "delete": "deleted"}
_PAGE = 500
_RECHECK_SECONDS = 1.0
"""How soon a change written through another store object (another process's emulator on
the same file) is seen; this one's own writes wake the follower at once."""
COLLECTIONS = {
    "events": ("Events", CALENDARS_PERMISSION),
    "contacts": ("Contacts", CONTACTS_PERMISSION),
}


@dataclass(frozen=True)
class Subscription:
    id: str
    resource: str
    mailbox: str
    collection: str
    change_type: str
    notification_url: str
    lifecycle_url: str | None
    client_state: str | None
    expiration: datetime
    application_id: str

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "resource": self.resource,
            "applicationId": self.application_id,
            "changeType": self.change_type,
            "clientState": self.client_state,
            "notificationUrl": self.notification_url,
            "notificationQueryOptions": None,
            "lifecycleNotificationUrl": self.lifecycle_url,
            "expirationDateTime": iso_time(self.expiration),
            "creatorId": self.application_id,
            "includeResourceData": None,
            "latestSupportedTlsVersion": "v1_2",
            "encryptionCertificate": None,
            "encryptionCertificateId": None,
            "notificationUrlAppId": None,
        }


class Subscriptions:
    """The tenant's subscriptions over a store's mailboxes (thread-safe); :meth:`close`
    stops their clock and the follower of the store's change log."""

    def __init__(self, tenant_id: str, store: Store, ca_file: str | None = None) -> None:
        self.tenant_id = tenant_id
        self.store = store
        self.notifier = Notifier(ca_file)
        self._live: dict[str, Subscription] = {}
        self._changed = threading.Condition()
        self._closed = False
        threading.Thread(target=self._expire, name="graph-subscriptions", daemon=True).start()
        threading.Thread(target=self._follow, name="graph-change-log", daemon=True).start()

    def get(self, subscription_id: str) -> Subscription:
        with self._changed:
            found = self._live.get(subscription_id)
        if found is None:
            raise not_found(subscription_id)
        return found

    def all(self) -> list[Subscription]:
        with self._changed:
            return list(self._live.values())

    def add(self, subscription: Subscription) -> None:
        with self._changed:
            self._live[subscription.id] = subscription
            self._changed.notify_all()

    def renew(self, subscription_id: str, expiration: datetime) -> Subscription:
        with self._changed:
            found = self._live.get(subscription_id)
            if found is None:
                raise not_found(subscription_id)
            renewed = self._live[subscription_id] = replace(found, expiration=expiration)
            self._changed.notify_all()
        return renewed

    def delete(self, subscription_id: str) -> None:
        with self._changed:
            if self._live.pop(subscription_id, None) is None:
                raise not_found(subscription_id)

    def drop(self, subscription_id: str, silently: bool = False) -> None:
        """Removed as Graph removes one (a reset password, revoked access): it stops
        notifying; its lifecycle URL, if any, hears ``subscriptionRemoved`` unless
        ``silently`` (a lifecycle notification lost on the way)."""
        with self._changed:
            found = self._live.pop(subscription_id)
        if not silently:
            self.lifecycle(found, "subscriptionRemoved")

    def lifecycle(self, subscription: Subscription, event: str) -> None:
        """A lifecycle notification (``reauthorizationRequired``, ``subscriptionRemoved``,
        ``missed``) to the subscription's lifecycle URL; none without one."""
        if subscription.lifecycle_url is None:
            return
        notification = {
            "subscriptionId": subscription.id,
            "subscriptionExpirationDateTime": iso_time(subscription.expiration),
            "tenantId": self.tenant_id,
            "clientState": subscription.client_state,
            "lifecycleEvent": event,
        }
        self.notifier.send(Delivery(subscription.lifecycle_url, notification))

    def changed(self, mailbox: str, collection: str, item_id: str, change_type: str) -> None:
        """An item of a mailbox's collection was created, updated or deleted."""
        now = datetime.now(UTC)
        with self._changed:
            listening = [
                found
                for found in self._live.values()
                if (found.mailbox, found.collection) == (mailbox, collection)
                and change_type in found.change_type.split(",")
                and found.expiration > now
            ]
        entity, _ = COLLECTIONS[collection]
        resource = f"Users/{object_id('user', mailbox)}/{entity}/{item_id}"
        for found in listening:
            notification = {
                "subscriptionId": found.id,
                "subscriptionExpirationDateTime": iso_time(found.expiration),
                "changeType": change_type,
                "resource": resource,
                "resourceData": {
                    "@odata.type": f"#Microsoft.Graph.{entity[:-1]}",
                    "@odata.id": resource,
                    "id": item_id,
                },
                "clientState": found.client_state,
                "tenantId": self.tenant_id,
            }
            missed = (
                (lambda found=found: self.lifecycle(found, "missed"))
                if found.lifecycle_url
                else None
            )
            self.notifier.send(Delivery(found.notification_url, notification, missed))

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        with self.store.changed:
            self.store.changed.notify_all()
        self.notifier.close()

    def _follow(self) -> None:
        """Every calendar or contacts folder change in the store's log, as it is committed,
        until :meth:`close` (or the store's owner closes it first)."""
        try:
            seq = self.store.last_seq()
            while True:
                with self.store.changed:
                    while not self._closed and self.store.last_seq() == seq:
                        self.store.changed.wait(_RECHECK_SECONDS)
                if self._closed:
                    return
                for mailbox, change in self.store.changes_after(seq, _PAGE):
                    seq = change.seq
                    collection = _FOLDERS.get(change.folder)
                    if collection is not None:
                        kind = _CHANGE_TYPES[change.kind]
                        self.changed(mailbox, collection, to_graph(change.item_id), kind)
        except sqlite3.ProgrammingError:
            return

    def _expire(self) -> None:
        """Ends each subscription at its expiration."""
        with self._changed:
            while not self._closed:
                now = datetime.now(UTC)
                expired = [found for found in self._live.values() if found.expiration <= now]
                for found in expired:
                    del self._live[found.id]
                    self.lifecycle(found, "subscriptionRemoved")
                following = min((found.expiration for found in self._live.values()), default=None)
                wait = None if following is None else (following - now).total_seconds()
                self._changed.wait(timeout=wait)


def not_found(subscription_id: str) -> GraphError:
    return GraphError(
        404, "ResourceNotFound", f"The subscription '{subscription_id}' was not found."
    )


def iso_time(moment: datetime) -> str:
    """Graph's form of a subscription's times (seven fractional digits, UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
