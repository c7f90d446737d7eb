"""Streaming notification subscriptions: who subscribed to what, where they live, and what
each has not been told yet.

A subscription is a position in its mailbox's change log (as a sync state is), so events
that happen while no connection carries it are kept and delivered by the next one. The
limits and errors are Exchange's (Microsoft's "Handling notification-related errors" and
"Maintain affinity between a group of subscriptions and the Mailbox server"):

- a subscription lives on the mailbox server its request was routed to: the
  ``X-BackEndOverrideCookie`` when one is sent with ``X-PreferServerAffinity: true``, else
  the ``X-AnchorMailbox``, else the mailbox itself. The emulator puts every mailbox on a
  server of its own (the strictest layout Exchange can have), so a GetStreamingEvents
  routed to one server does not find the subscriptions of another anchor's group
  (ErrorSubscriptionNotFound), as Exchange answers a request routed without affinity;
- at most 200 subscription ids in one GetStreamingEvents;
- at most ``connections_per_account`` streams open at once per account charged (the
  impersonated mailbox, or the caller): Exchange's HangingConnectionLimit, 3 on premises
  by default (10 in Exchange Online), then ErrorExceededConnectionCount;
- at most ``subscriptions_per_mailbox`` live subscriptions per target mailbox
  (EWSMaxSubscriptions, 20 in Exchange Online), then ErrorExceededSubscriptionCount;
- a subscription that no connection carries for ``idle_expiry_seconds`` (Exchange: about
  30 minutes) is gone: ErrorSubscriptionNotFound. Ids are never reused.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from engine.sandbox.ews.soap import EwsError
from engine.sandbox.ews.store import Change, Store

EVENTS_PER_NOTIFICATION = 50
"""Exchange takes at most 50 events from a subscription's queue into one notification."""
SUBSCRIBABLE_FOLDERS = frozenset({"calendar", "contacts", "tasks", "inbox", "deleteditems"})
EVENT_TYPES = frozenset(
    {
        "CreatedEvent",
        "DeletedEvent",
        "ModifiedEvent",
        "MovedEvent",
        "CopiedEvent",
        "NewMailEvent",
        "FreeBusyChangedEvent",
    }
)
"""What a subscription may ask for. The emulator raises Created, Modified, Deleted and
Moved events; it never copies items, delivers mail or tracks free/busy, so the other
three never come (asking for them is no error, as on a quiet Exchange mailbox)."""


@dataclass(frozen=True)
class StreamingLimits:
    """Exchange's defaults; tests shorten the times."""

    subscriptions_per_connection: int = 200
    connections_per_account: int = 3
    subscriptions_per_mailbox: int = 20
    idle_expiry_seconds: float = 30 * 60
    keep_alive_seconds: float = 60
    """How long a stream stays silent before a keep-alive envelope (ConnectionStatus OK)."""
    minute_seconds: float = 60
    """How long one minute of a request's ConnectionTimeout lasts."""


@dataclass(frozen=True)
class Routing:
    """The affinity headers of a request."""

    anchor: str | None = None
    prefer_affinity: bool = False
    cookie: str | None = None


@dataclass
class Subscription:
    id: str
    owner: str
    """The account that created it: only it may stream or end it."""
    mailbox: str
    folders: frozenset[str]
    event_types: frozenset[str]
    server: str
    position: int
    idle_since: float | None
    """When the last connection carrying it ended; ``None`` while one does."""


@dataclass(frozen=True)
class Event:
    """One event of a notification (an item created, changed, deleted or moved)."""

    kind: str
    change: Change
    mailbox: str


@dataclass
class Stream:
    """One open GetStreamingEvents connection."""

    account: str
    subscriptions: list[Subscription]
    ends: float
    hub: Notifications
    closed: bool = False

    def take(self) -> list[tuple[str, list[Event]]]:
        """(subscription id, events) for each subscription with something new."""
        batches = []
        for subscription in list(self.subscriptions):  # another stream may take one over
            events = self.hub.events(subscription)
            if events:
                batches.append((subscription.id, events))
        return batches

    def wait(self, seconds: float) -> None:
        """Until the store changes, the hub closes, or ``seconds`` pass. A store written by
        another process is seen within the poll interval."""
        with self.hub.store.changed:
            if not self.hub.closed:
                self.hub.store.changed.wait(min(seconds, _POLL_SECONDS))


_POLL_SECONDS = 0.2
_SERVER_DOMAIN = ".sandbox.msext.example"


class SubscriptionRefusedError(EwsError):
    """A GetStreamingEvents refused for some of its subscriptions, which it names."""

    def __init__(self, code: str, text: str, ids: list[str]) -> None:
        super().__init__(code, text)
        self.ids = ids


class Notifications:
    """Every subscription and open stream of one emulator. Thread-safe."""

    def __init__(
        self,
        store: Store,
        limits: StreamingLimits,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.limits = limits
        self.clock = clock
        self.closed = False
        self._subscriptions: dict[str, Subscription] = {}
        self._streams: list[Stream] = []
        self._lock = threading.Lock()
        self._released = threading.Condition(self._lock)
        self.cookies_issued = 0

    # -- affinity --------------------------------------------------------------------------

    @staticmethod
    def server_of(mailbox: str) -> str:
        """The mailbox server a mailbox lives on: one of its own."""
        digest = hashlib.sha256(mailbox.lower().encode()).hexdigest()[:8].upper()
        return f"MSEXT{digest}{_SERVER_DOMAIN}"

    @staticmethod
    def cookie_server(routing: Routing) -> str | None:
        """The server a request's affinity cookie routes to, if it has a valid one (it
        counts only with ``X-PreferServerAffinity: true``)."""
        if not (routing.prefer_affinity and routing.cookie):
            return None
        server = routing.cookie.split("~", 1)[0]
        return server if server.endswith(_SERVER_DOMAIN) else None

    def route(self, routing: Routing, target: str) -> str:
        """The server a request reaches (see the module's docstring)."""
        return self.cookie_server(routing) or self.server_of(routing.anchor or target)

    def cookie_for(self, server: str) -> str:
        with self._lock:
            self.cookies_issued += 1
            return f"{server}~{self.cookies_issued}"

    # -- subscriptions ---------------------------------------------------------------------

    def subscribe(
        self,
        owner: str,
        mailbox: str,
        folders: Iterable[str],
        event_types: Iterable[str],
        server: str,
    ) -> Subscription:
        with self._lock:
            self._expire()
            live = sum(1 for known in self._subscriptions.values() if known.mailbox == mailbox)
            if live >= self.limits.subscriptions_per_mailbox:
                raise EwsError(
                    "ErrorExceededSubscriptionCount",
                    "You have exceeded the available subscriptions for your account. Remove"
                    " unnecessary subscriptions and try your request again.",
                )
            subscription = Subscription(
                id=_new_subscription_id(server),
                owner=owner,
                mailbox=mailbox,
                folders=frozenset(folders),
                event_types=frozenset(event_types),
                server=server,
                position=self.store.last_seq(),
                idle_since=self.clock(),
            )
            self._subscriptions[subscription.id] = subscription
            return subscription

    def unsubscribe(self, owner: str, subscription_id: str) -> None:
        with self._lock:
            self._expire()
            found = self._subscriptions.get(subscription_id)
            if found is None or found.owner != owner:
                raise _not_found()
            del self._subscriptions[subscription_id]
            self._detach(found)

    def forget(self, mailbox: str | None = None) -> int:
        """Drop the subscriptions (of one mailbox, or all) as a restart of Exchange's EWS
        process does: the streams carrying them lose them, and the next request naming
        them gets ErrorSubscriptionNotFound. How many were dropped."""
        with self._lock:
            lost = [
                found
                for found in self._subscriptions.values()
                if mailbox is None or found.mailbox == mailbox.lower()
            ]
            for found in lost:
                del self._subscriptions[found.id]
                self._detach(found)
            return len(lost)

    def live(self) -> list[Subscription]:
        """The subscriptions not expired, for tests and benchmarks."""
        with self._lock:
            self._expire()
            return list(self._subscriptions.values())

    def _expire(self) -> None:
        now = self.clock()
        for subscription in list(self._subscriptions.values()):
            idle = subscription.idle_since
            if idle is not None and now - idle >= self.limits.idle_expiry_seconds:
                del self._subscriptions[subscription.id]

    # -- streams ---------------------------------------------------------------------------

    def open(self, owner: str, account: str, ids: list[str], server: str, minutes: int) -> Stream:
        """A stream over ``ids`` for ``minutes``, or the error Exchange answers instead."""
        limits = self.limits
        if len(ids) > limits.subscriptions_per_connection:
            raise EwsError(
                "ErrorInvalidRequest",
                f"A GetStreamingEvents request carries at most"
                f" {limits.subscriptions_per_connection} subscription ids; this one has"
                f" {len(ids)}. Group the subscriptions into several connections.",
            )
        with self._lock:
            self._expire()
            missing = [
                wanted
                for wanted in ids
                if (found := self._subscriptions.get(wanted)) is None
                or found.owner != owner
                or found.server != server
            ]
            if missing:
                raise SubscriptionRefusedError(
                    "ErrorSubscriptionNotFound",
                    "The specified subscription was not found: it expired, was ended, or"
                    " lives on another mailbox server (route the request with the group's"
                    " X-AnchorMailbox and X-BackEndOverrideCookie).",
                    missing,
                )
            open_here = sum(1 for stream in self._streams if stream.account == account)
            if open_here >= limits.connections_per_account:
                raise EwsError(
                    "ErrorExceededConnectionCount",
                    "You have exceeded the available concurrent connections for your account."
                    f" Try again once your other requests have completed ({account} has"
                    f" {limits.connections_per_account} streaming connections open).",
                )
            subscriptions = [self._subscriptions[wanted] for wanted in dict.fromkeys(ids)]
            for subscription in subscriptions:
                self._detach(subscription)
                subscription.idle_since = None
            stream = Stream(
                account, subscriptions, self.clock() + minutes * limits.minute_seconds, self
            )
            self._streams.append(stream)
            return stream

    def _detach(self, subscription: Subscription) -> None:
        """A subscription is carried by one connection: a newer one takes it over."""
        for stream in self._streams:
            if subscription in stream.subscriptions:
                stream.subscriptions.remove(subscription)

    def release(self, stream: Stream) -> None:
        with self._lock:
            stream.closed = True
            if stream in self._streams:
                self._streams.remove(stream)
            now = self.clock()
            for subscription in stream.subscriptions:
                subscription.idle_since = now
            self._released.notify_all()

    def events(self, subscription: Subscription) -> list[Event]:
        """The subscription's next events (at most :data:`EVENTS_PER_NOTIFICATION`), taken
        from its queue."""
        found: list[Event] = []
        position = subscription.position
        while len(found) < EVENTS_PER_NOTIFICATION:
            changes = self.store.mailbox_changes(
                subscription.mailbox, position, EVENTS_PER_NOTIFICATION
            )
            if not changes:
                break
            for change in changes:
                position = change.seq
                kind = _event_kind(change, subscription.folders)
                if kind in subscription.event_types:
                    found.append(Event(kind, change, subscription.mailbox))
                    if len(found) == EVENTS_PER_NOTIFICATION:
                        break
        subscription.position = position
        return found

    def close(self, wait_seconds: float = 2.0) -> None:
        """The emulator stops: every stream ends (its connection dropped, as a server going
        down drops it), before the store closes under it."""
        self.closed = True
        with self.store.changed:
            self.store.changed.notify_all()
        with self._released:
            self._released.wait_for(lambda: not self._streams, wait_seconds)


def _event_kind(change: Change, folders: frozenset[str]) -> str | None:
    """The event a change is for a subscription to ``folders``, if any. A move is one
    MovedEvent, reported by the entry at the subscribed end (the source's when both are)."""
    if change.other_folder is not None:
        if change.kind == "delete" and change.folder in folders:
            return "MovedEvent"
        if change.kind == "create" and change.other_folder not in folders:
            return "MovedEvent" if change.folder in folders else None
        return None
    if change.folder not in folders:
        return None
    return {"create": "CreatedEvent", "update": "ModifiedEvent", "delete": "DeletedEvent"}[
        change.kind
    ]


def _new_subscription_id(server: str) -> str:
    """Like Exchange's: the server's name and a fresh GUID, base64; never reused."""
    return base64.b64encode(server.encode() + b"\x10" + uuid.uuid4().bytes).decode()


def _not_found() -> EwsError:
    return EwsError("ErrorSubscriptionNotFound", "The specified subscription was not found.")
