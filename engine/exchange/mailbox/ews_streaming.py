"""The mailbox watch over EWS streaming notifications (issue 21): a sync of the users whose
calendar, contacts or tasks changed, within seconds instead of at the next interval.

As Microsoft's "Maintain affinity between a group of subscriptions and the Mailbox server"
asks: the mailboxes are grouped 200 at most, each group anchored on its first address
(alphabetically). Each mailbox is subscribed by impersonation with ``X-AnchorMailbox`` set
to the anchor and ``X-PreferServerAffinity: true``; the anchor's answer sets the
``X-BackEndOverrideCookie``, sent with the group's other requests. One GetStreamingEvents
per group, impersonating its anchor (so that each connection is charged to a mailbox of
its own, under Exchange's limit of streams per account), carries the group's
subscriptions; it is renewed before its ConnectionTimeout, and the mailboxes are read and
grouped again at each renewal. A subscription that lapses (ErrorSubscriptionNotFound, a
refused Subscribe, a dropped connection) is reported and subscribed again with back-off;
meanwhile the interval's full runs cover its mailbox.

Exchange notifies msext of its own writes too. A notification about items is therefore held
while a sync run of the profile holds its lock, then dropped if every item it names is as
the engine's id map left it: a created or changed item carrying the change key the engine
recorded after writing it, a deleted or moved item the map no longer holds (the engine
deleted it, or never tracked it). Anything else (a person's edit has another change key, a
person's deletion leaves its link in the map) is a sync request for its user.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests
from exchangelib import Account
from exchangelib import errors as ews_errors
from exchangelib.folders import Calendar, Contacts, Tasks
from exchangelib.folders.roots import Root
from exchangelib.services import GetStreamingEvents, SubscribeToStreaming, Unsubscribe
from exchangelib.util import MNS

from engine.errors import UserError
from engine.exchange.connect import exchange_connector
from engine.exchange.mailbox.base import MailboxError
from engine.exchange.mailbox.ews import EwsConnector, translate_errors
from engine.exchange.watch import WatchReport
from engine.paths import ProfilePaths
from engine.run_lock import RunLock, SyncBusyError
from engine.settings.model import Settings
from engine.state import StateStore

log = logging.getLogger(__name__)
GROUP_SIZE = 200
"""Microsoft: at most 200 subscriptions in one group, and in one GetStreamingEvents."""
SESSIONS = 10
"""The watch's own exchangelib session pool (msext's most, ``exchange.sync.workers``): each
open stream holds a session for its whole length, and one is left for Subscribe, so at most
``SESSIONS - 1`` groups stream at once (1,800 mailboxes); the others are reported lapsed."""
COOKIE = "X-BackEndOverrideCookie"
EVENT_TYPES = ("CreatedEvent", "ModifiedEvent", "DeletedEvent", "MovedEvent")
WRITES = frozenset({"CreatedEvent", "ModifiedEvent"})
GONE = frozenset({"DeletedEvent", "MovedEvent"})
"""Events that may be the engine's own writes and deletions (see the module's doc)."""
WATCHED_FOLDERS = (Calendar, Contacts, Tasks)


@dataclass(frozen=True)
class StreamTiming:
    """How long streams last and how soon lapses are retried; tests shorten them."""

    connection_minutes: int = 30
    """The ConnectionTimeout asked for: Exchange's longest, the fewest reconnections."""
    renew_seconds: float = 29 * 60
    """A group's stream is replaced this long after it opened, before Exchange closes it."""
    backoff_seconds: tuple[float, ...] = (2, 5, 15, 60, 300)
    """The waits before each new attempt at a lapsed subscription or a dropped stream."""
    tick_seconds: float = 0.2
    """How often the watch looks at its streams (and at ``stop``)."""


def serve(
    settings: Settings,
    paths: ProfilePaths,
    users: Callable[[], Mapping[str, int]],
    on_change: Callable[[int, datetime], None],
    report: Callable[[WatchReport], None],
    stop: threading.Event,
    timing: StreamTiming | None = None,
) -> None:
    """Watch the mailboxes of ``users()`` until ``stop`` is set (see the module's doc)."""
    timing = timing or StreamTiming()
    health = _Health(report)
    sync = settings.exchange.sync.model_copy(update={"workers": SESSIONS})
    settings = settings.model_copy(
        update={"exchange": settings.exchange.model_copy(update={"sync": sync})}
    )
    attempt = 0
    while not stop.is_set():
        try:
            with exchange_connector(settings, paths) as connector:
                if not isinstance(connector, EwsConnector):
                    health.update(0, {}, mode="polling")
                    stop.wait()
                    return
                echoes = _Echoes(paths, on_change)
                try:
                    _Watch(connector, users, echoes.changed, health, stop, timing, echoes).run()
                finally:
                    echoes.close()
                return
        except (UserError, MailboxError, OSError) as failure:
            health.update(0, {"*": f"Exchange could not be reached: {failure}"}, "polling")
        except Exception as failure:
            # The watch must not end silently: the daemon falls back on the interval's runs
            # and the reason is shown, and the watch starts again after its back-off.
            log.exception("the EWS mailbox watch failed")
            health.update(0, {"*": f"the mailbox watch failed: {failure}"}, "polling")
        stop.wait(_backoff(timing, attempt))
        attempt += 1


def _backoff(timing: StreamTiming, attempt: int) -> float:
    return timing.backoff_seconds[min(attempt, len(timing.backoff_seconds) - 1)]


class _Health:
    """Reports the watch's health whenever it changes, never twice the same."""

    def __init__(self, report: Callable[[WatchReport], None]) -> None:
        self._report = report
        self._last: tuple[str, int, dict[str, str]] | None = None

    def update(self, watched: int, lapsed: Mapping[str, str], mode: str | None = None) -> None:
        mode = mode or ("notifications" if watched else "polling")
        state = (mode, watched, dict(lapsed))
        if state != self._last:
            self._last = state
            self._report(WatchReport("ews", mode, watched, dict(lapsed), datetime.now(UTC)))


class _Affinity:
    """exchangelib's affinity headers, with the group's anchor and cookie instead of each
    account's own; the cookie an answer sets is kept here and never left in the pooled
    session (it would route another group's requests to this group's server)."""

    anchor = ""
    cookie: str | None = None

    def _extra_headers(self) -> dict[str, str]:
        headers: dict[str, str] = super()._extra_headers()  # type: ignore[misc]
        headers["X-AnchorMailbox"] = self.anchor
        headers["X-PreferServerAffinity"] = "true"
        headers.pop(COOKIE, None)
        if self.cookie:
            headers["Cookie"] = f"{COOKIE}={self.cookie}"
        return headers

    def _handle_response_cookies(self, session: requests.Session) -> None:
        for cookie in list(session.cookies):
            if cookie.name == COOKIE:
                self.cookie = self.cookie or cookie.value
                session.cookies.clear(cookie.domain, cookie.path, cookie.name)


class _Subscribe(_Affinity, SubscribeToStreaming):
    pass


class _Unsubscribe(_Affinity, Unsubscribe):
    pass


class _Events(_Affinity, GetStreamingEvents):
    """GetStreamingEvents that keeps the ids Exchange refused, and can be cancelled from
    another thread (closing its answer wakes the thread reading it)."""

    refused: list[str]
    cancelled = False

    def _get_element_container(self, message: Any, name: Any = None) -> Any:
        found = message.find(f"{{{MNS}}}ErrorSubscriptionIds")
        self.refused = [] if found is None else [child.text for child in found]
        return super()._get_element_container(message, name)

    def cancel(self) -> None:
        self.cancelled = True
        answer = self._streaming_response
        if answer is not None:
            answer.close()


@dataclass
class _Group:
    """One affinity group and its stream."""

    anchor: str
    addresses: list[str]
    cookie: str | None = None
    events: _Events | None = None
    thread: threading.Thread | None = None
    opened: float = 0.0
    retry_at: float = 0.0
    attempts: int = 0
    ended: str | None = None
    """Why its last stream ended early (a dropped connection); None after a clean end."""

    @property
    def streaming(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


@dataclass
class _Subscription:
    id: str | None = None
    anchor: str | None = None
    """The group's anchor when it was made: it lives on that anchor's server."""
    lapsed: str | None = None
    retry_at: float = 0.0
    attempts: int = 0


@dataclass(frozen=True)
class _Notified:
    """One user's notification: its earliest time, and each item it names as (item id,
    change key) when written, (item id, None) when deleted or moved away; empty when it
    names something else (a folder), which is never an echo."""

    user: int
    at: datetime
    items: tuple[tuple[str, str | None], ...]


class _Echoes:
    """Holds notifications that may be the engine's own writes (see the module's doc)."""

    def __init__(self, paths: ProfilePaths, on_change: Callable[[int, datetime], None]) -> None:
        self._lock = RunLock(paths)
        self._state = StateStore(paths.state_db)
        self._on_change = on_change
        self._held: list[_Notified] = []
        self._guard = threading.Lock()

    def changed(self, notified: _Notified) -> None:
        if not notified.items:
            self._on_change(notified.user, notified.at)
            return
        with self._guard:
            self._held.append(notified)

    def settle(self) -> None:
        """Pass on the held notifications that are not the engine's writes, once no run
        holds the profile's lock."""
        with self._guard:
            if not self._held:
                return
            try:
                self._lock.check()
            except SyncBusyError:
                return
            held, self._held = self._held, []
        for notified in held:
            links = self._state.links(notified.user).values()
            recorded = {link.item_id: link.change_key for link in links}
            if any(_news(recorded, item, key) for item, key in notified.items):
                self._on_change(notified.user, notified.at)

    def close(self) -> None:
        self._state.close()


def _news(recorded: Mapping[str, str], item: str, change_key: str | None) -> bool:
    """Whether an item's event is something the id map does not know yet."""
    if change_key is None:
        return item in recorded  # deleted or moved away while the map still links it
    return recorded.get(item) != change_key


@dataclass
class _Watch:
    connector: EwsConnector
    users: Callable[[], Mapping[str, int]]
    on_change: Callable[[_Notified], None]
    health: _Health
    stop: threading.Event
    timing: StreamTiming
    echoes: _Echoes
    mailboxes: dict[str, int] = field(default_factory=dict)
    subscriptions: dict[str, _Subscription] = field(default_factory=dict)
    groups: list[_Group] = field(default_factory=list)
    accounts: dict[str, Account] = field(default_factory=dict)

    def run(self) -> None:
        while not self.stop.is_set():
            self._regroup()
            renewal = time.monotonic() + self.timing.renew_seconds
            while not self.stop.is_set() and time.monotonic() < renewal:
                for group in self.groups[: SESSIONS - 1]:
                    if not group.streaming and time.monotonic() >= group.retry_at:
                        self._open(group)
                self.echoes.settle()
                self._report()
                self.stop.wait(self.timing.tick_seconds)
            self._close_streams()
        self._report()

    # -- subscriptions ---------------------------------------------------------------------

    def _regroup(self) -> None:
        """Read the mailboxes again, forget the removed ones, group them (200 at most)."""
        self.mailboxes = {address.lower(): uid for address, uid in self.users().items()}
        for address in set(self.subscriptions) - set(self.mailboxes):
            self._unsubscribe(address, self.subscriptions.pop(address))
        ordered = sorted(self.mailboxes)
        cookies = {group.anchor: group.cookie for group in self.groups}
        self.groups = [
            _Group(anchor=chunk[0], addresses=chunk, cookie=cookies.get(chunk[0]))
            for chunk in _chunks(ordered, GROUP_SIZE)
        ]
        for group in self.groups[SESSIONS - 1 :]:
            group.ended = (
                f"msext streams {(SESSIONS - 1) * GROUP_SIZE:,} mailboxes at most over EWS;"
                " this one is found by the interval's runs"
            )

    def _account(self, address: str) -> Account:
        if address not in self.accounts:
            self.accounts[address] = self.connector.open(address).account
        return self.accounts[address]

    def _subscribe(self, group: _Group) -> list[str]:
        """The group's live subscription ids, subscribing (again) those that are due."""
        live = []
        for address in group.addresses:
            if self.stop.is_set():
                break
            subscription = self.subscriptions.setdefault(address, _Subscription())
            if subscription.id is not None and subscription.anchor != group.anchor:
                # Regrouped under another anchor: its subscription lives on the old one's
                # server, which this group's stream does not reach.
                self._unsubscribe(address, subscription)
                subscription.id = None
            if subscription.id is None and time.monotonic() >= subscription.retry_at:
                self._try_subscribe(group, address, subscription)
            if subscription.id is not None:
                live.append(subscription.id)
        return live

    def _try_subscribe(self, group: _Group, address: str, subscription: _Subscription) -> None:
        account = self._account(address)
        service = _Subscribe(account=account)
        service.anchor, service.cookie = group.anchor, group.cookie
        root = Root(account=account)
        folders = [kind(root=root) for kind in WATCHED_FOLDERS]
        try:
            with translate_errors(address):
                subscription.id = service.get(folders=folders, event_types=EVENT_TYPES)
        except (MailboxError, ews_errors.EWSError, UserError) as failure:
            self._lapse(subscription, str(failure))
            return
        group.cookie = group.cookie or service.cookie
        subscription.anchor, subscription.lapsed, subscription.attempts = group.anchor, None, 0

    def _lapse(self, subscription: _Subscription, why: str) -> None:
        subscription.id, subscription.lapsed = None, why
        subscription.retry_at = time.monotonic() + _backoff(self.timing, subscription.attempts)
        subscription.attempts += 1

    def _unsubscribe(self, address: str, subscription: _Subscription) -> None:
        """A removed user's subscription ends at once (it counts against Exchange's
        subscriptions per mailbox); if that fails it expires by itself."""
        if subscription.id is None:
            return
        service = _Unsubscribe(account=self._account(address))
        service.anchor = subscription.anchor or address
        try:
            with translate_errors(address):
                service.get(expect_result=None, subscription_id=subscription.id)
        except (MailboxError, ews_errors.EWSError, UserError):
            pass

    # -- streams ---------------------------------------------------------------------------

    def _open(self, group: _Group) -> None:
        ids = self._subscribe(group)
        if not ids:
            group.retry_at = min(
                (self.subscriptions[address].retry_at for address in group.addresses),
                default=time.monotonic() + self.timing.tick_seconds,
            )
            return
        events = _Events(account=self._account(group.anchor))
        events.anchor, events.cookie = group.anchor, group.cookie
        by_id = {
            self.subscriptions[address].id: address
            for address in group.addresses
            if self.subscriptions[address].id
        }
        group.events, group.opened, group.ended = events, time.monotonic(), None
        group.thread = threading.Thread(
            target=self._stream,
            args=(group, events, by_id),
            name=f"msext-ews-stream-{group.anchor}",
            daemon=True,
        )
        group.thread.start()

    def _stream(self, group: _Group, events: _Events, by_id: dict[str, str]) -> None:
        """One GetStreamingEvents: each notification is a sync request for its user. Its
        end is never silent: refused subscriptions lapse, anything else drops the stream
        (reported, and opened again after the back-off); a cancelled one just ends (a read
        cut by the cancel fails in whatever way urllib3 happens to be at)."""
        try:
            with translate_errors(group.anchor):
                for notification in events.call(list(by_id), self.timing.connection_minutes):
                    self._changed(by_id.get(notification.subscription_id), notification.events)
            group.attempts = 0
        except Exception as failure:
            if events.cancelled or self.stop.is_set():
                return
            refused = [by_id[found] for found in getattr(events, "refused", []) if found in by_id]
            for address in refused:
                self._lapse(self.subscriptions[address], f"subscription lapsed: {failure}")
            if refused:
                return
            if not isinstance(failure, MailboxError | requests.RequestException | OSError):
                log.exception("the EWS stream of %s failed", group.anchor)
            self._drop(group, f"the stream ended: {failure}")

    def _drop(self, group: _Group, why: str) -> None:
        group.ended = why
        group.retry_at = time.monotonic() + _backoff(self.timing, group.attempts)
        group.attempts += 1

    def _changed(self, address: str | None, events: Iterable[Any]) -> None:
        events = list(events)
        stamps = [event.timestamp for event in events if getattr(event, "timestamp", None)]
        user = self.mailboxes.get(address or "")
        if user is None or not stamps:
            return
        items = tuple(found for event in events if (found := _item(event)) is not None)
        at = datetime.fromtimestamp(min(stamps).timestamp(), UTC)
        self.on_change(_Notified(user, at, items if len(items) == len(events) else ()))

    def _close_streams(self) -> None:
        """Cancel every stream and wait (briefly) for its thread."""
        for group in self.groups:
            if group.events is not None:
                group.events.cancel()
        for group in self.groups:
            if group.thread is not None:
                group.thread.join(timeout=2)

    def _report(self) -> None:
        lapsed = {
            address: subscription.lapsed
            for address, subscription in self.subscriptions.items()
            if subscription.lapsed and subscription.id is None
        }
        watched = 0
        for group in self.groups:
            for address in group.addresses:
                subscription = self.subscriptions.get(address)
                if subscription is not None and subscription.id is None:
                    continue  # not subscribed yet, or lapsed itself (above)
                if group.ended and not group.streaming:
                    lapsed[address] = group.ended
                elif subscription is not None:
                    watched += 1  # streaming, or reopened at the next look
        self.health.update(0 if self.stop.is_set() else watched, lapsed)


def _item(event: Any) -> tuple[str, str | None] | None:
    """(item id, change key) of a write, (item id, None) of a deletion or a move away."""
    kind = type(event).__name__
    if kind in WRITES and event.item_id is not None:
        return event.item_id.id, event.item_id.changekey
    if kind in GONE:
        gone = getattr(event, "old_item_id", None) or event.item_id
        return (gone.id, None) if gone is not None else None
    return None


def _chunks(addresses: list[str], size: int) -> list[list[str]]:
    return [addresses[start : start + size] for start in range(0, len(addresses), size)]
