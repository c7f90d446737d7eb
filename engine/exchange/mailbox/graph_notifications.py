"""Microsoft Graph change notifications of the users' calendars: the mailbox watcher for
Graph (issue 21's shared design, :func:`serve`).

Where the administrator gives msext an https URL Microsoft reaches from the internet
(``exchange.general.notification_url``, forwarded to the receiver's ``notification_listen``),
each mailbox gets a subscription to its events; Graph validates the URL (the receiver echoes
its token) and then posts every created, updated or deleted event, which becomes
``on_change(user, time)``. Subscriptions live at most 10,080 minutes for Outlook events: they
are renewed (PATCH) at half their life, re-created when Graph removes one (a lifecycle
notification, or a renewal answered 404), retried when creating one fails, and deleted at
stop. Every lapse or failure is reported (``WatchReport.lapsed``, which the daemon logs as a
warning: engine/exchange/watch.py); the interval's full runs keep those mailboxes in sync.
Without a URL nothing subscribes and the report says polling.
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.errors import UserError
from engine.exchange.connect import exchange_connector
from engine.exchange.mailbox.base import MailboxError
from engine.exchange.mailbox.graph_receiver import Notice, Receiver
from engine.exchange.watch import WatchReport
from engine.graph.http import GraphClient, GraphRequest, GraphResponse, user_path
from engine.paths import ProfilePaths
from engine.settings.model import CALENDARS_PERMISSION as CALENDARS
from engine.settings.model import Settings
from engine.settings.secrets import resolve_secret, write_secret_file

log = logging.getLogger(__name__)
SUBSCRIPTION_LIFETIME = timedelta(days=3)
"""Asked for each subscription, well within Graph's 10,080 minutes for Outlook events."""
RETRY_INTERVAL = timedelta(minutes=5)
"""How often mailboxes without a subscription are tried again (and the users re-read)."""
CLIENT_STATE_SECRET = "graph-client-state"
"""The secret file holding this installation's clientState (made on first use)."""
CHANGE_TYPES = "created,updated,deleted"


def serve(
    settings: Settings,
    paths: ProfilePaths,
    users: Callable[[], Mapping[str, int]],
    on_change: Callable[[int, datetime], None],
    report: Callable[[WatchReport], None],
    stop: threading.Event,
    *,
    lifetime: timedelta = SUBSCRIPTION_LIFETIME,
) -> None:
    """Watch the users' calendars until ``stop`` is set (see the module's docstring).
    ``lifetime`` is what each subscription asks for (shorter in tests)."""
    general = settings.exchange.general
    if general.notification_url is None:
        report(WatchReport("graph", "polling", 0, {}, datetime.now(UTC)))
        stop.wait()
        return
    notices: queue.Queue[Notice | None] = queue.Queue()
    threading.Thread(
        target=lambda: (stop.wait(), notices.put(None)), name="graph-watch-stop", daemon=True
    ).start()
    watch = _Watch(general.notification_url, users, on_change, report, lifetime)
    try:
        receiver = Receiver(
            general.notification_listen or "",
            general.notification_certificate or "",
            general.notification_key or "",
            _client_state(paths),
            notices.put,
        )
        receiver.start()
    except UserError as error:
        watch.fail_all(str(error))
        stop.wait()
        return
    try:
        with exchange_connector(settings, paths) as connector:
            client = getattr(connector, "client", None)
            if not isinstance(client, GraphClient):
                watch.fail_all("change notifications need the Microsoft Graph mailbox API")
                stop.wait()
                return
            watch.run(client, receiver.client_state, notices)
    except UserError as error:
        watch.fail_all(str(error))
        stop.wait()
    finally:
        receiver.close()


def _client_state(paths: ProfilePaths) -> str:
    """This installation's clientState: a secret Graph sends back with each notification,
    kept in the profile's secrets directory like the other secrets."""
    if not (paths.secrets_dir / CLIENT_STATE_SECRET).exists():
        write_secret_file(paths, CLIENT_STATE_SECRET, secrets.token_urlsafe(32))
    return resolve_secret(f"file:{CLIENT_STATE_SECRET}", paths)


@dataclass
class _Live:
    id: str
    expiration: datetime


class _Watch:
    """The subscriptions of one watcher, kept by one thread."""

    def __init__(
        self,
        url: str,
        users: Callable[[], Mapping[str, int]],
        on_change: Callable[[int, datetime], None],
        report: Callable[[WatchReport], None],
        lifetime: timedelta,
    ) -> None:
        self.url = url
        self.users = users
        self.on_change = on_change
        self.report = report
        self.lifetime = lifetime
        self.retry = min(RETRY_INTERVAL, lifetime / 2)
        self.user_ids: dict[str, int] = {}
        self.live: dict[str, _Live] = {}
        self.lapsed: dict[str, str] = {}
        self._reported: tuple[Any, ...] | None = None
        self._in_round = False
        """While every mailbox is (re)subscribed: one report at the round's end, not one
        per mailbox (a thousand mailboxes would write a thousand reports)."""
        self._next_retry = datetime.now(UTC)

    # -- reporting ------------------------------------------------------------------------

    def _report(self) -> None:
        """A report when anything it says changed."""
        if self._in_round:
            return
        mode = "notifications" if self.live else "polling"
        said = (mode, len(self.live), dict(self.lapsed))
        if said != self._reported:
            self._reported = said
            self.report(WatchReport("graph", mode, len(self.live), dict(self.lapsed), _now()))

    def fail_all(self, why: str) -> None:
        """Nothing can subscribe: every mailbox is polled, and the report says why."""
        log.info("Graph change notifications are off, mailboxes are polled: %s", why)
        self.lapsed = dict.fromkeys(self._read_users(), why)
        self._report()

    def _lapse(self, address: str, why: str) -> None:
        log.info("the Graph subscription of %s lapsed, its calendar is polled: %s", address, why)
        self.live.pop(address, None)
        self.lapsed[address] = why
        self._report()

    # -- the loop -------------------------------------------------------------------------

    def run(
        self, client: GraphClient, client_state: str, notices: queue.Queue[Notice | None]
    ) -> None:
        self.client = client
        self.client_state = client_state
        self._clear_leftovers()
        self._resubscribe()
        while True:
            try:
                notice = notices.get(timeout=self._seconds_to_next())
            except queue.Empty:
                notice = _TICK
            if notice is None:
                break
            if notice is not _TICK:
                self._handle(notice)
            self._renew_due()
            if _now() >= self._next_retry:
                self._resubscribe()
        self._unsubscribe(list(self.live))
        self._report()

    def _seconds_to_next(self) -> float:
        renewals = [live.expiration - self.lifetime / 2 for live in self.live.values()]
        due = min([self._next_retry, *renewals])
        return max(0.0, (due - _now()).total_seconds())

    def _handle(self, notice: Notice) -> None:
        address = next(
            (a for a, live in self.live.items() if live.id == notice.subscription_id), None
        )
        if address is None:
            log.debug("a Graph notification for an unknown subscription %s", notice.subscription_id)
            return
        if notice.lifecycle_event == "reauthorizationRequired":
            self._renew(address)
            return
        if notice.lifecycle_event == "subscriptionRemoved":
            self._lapse(address, "Microsoft Graph removed the subscription (subscriptionRemoved)")
            self._subscribe(address)
        elif notice.lifecycle_event == "missed":
            log.info("Graph missed notifications for %s: its calendar is synced", address)
        user = self.user_ids.get(address)
        if user is not None:
            self.on_change(user, notice.at)

    # -- subscriptions --------------------------------------------------------------------

    def _read_users(self) -> dict[str, int]:
        self.user_ids = {address.lower(): user for address, user in self.users().items()}
        return self.user_ids

    def _resubscribe(self) -> None:
        """Re-read the users: subscribe the mailboxes without a subscription, end those of
        users no longer synced."""
        self._in_round = True
        try:
            wanted = self._read_users()
            self._unsubscribe([address for address in self.live if address not in wanted])
            for address in list(self.lapsed):
                if address not in wanted:
                    del self.lapsed[address]
            missing = [address for address in wanted if address not in self.live]
            self._each(missing, self._subscription, self._subscribed)
        finally:
            self._in_round = False
        self._next_retry = _now() + self.retry
        self._report()

    def _subscribe(self, address: str) -> None:
        self._each([address], self._subscription, self._subscribed)

    def _each(
        self,
        addresses: list[str],
        request: Callable[[str], GraphRequest],
        apply: Callable[[str, GraphResponse], None],
    ) -> None:
        """``request`` for each mailbox, in Graph's JSON batches of 20 (a thousand mailboxes
        subscribed or renewed in 50 round trips, not a thousand), each answer applied."""
        if not addresses:
            return
        try:
            answers = self.client.batch(
                [request(address) for address in addresses], "the subscriptions", CALENDARS
            )
        except MailboxError as error:
            for address in addresses:
                self._lapse(address, str(error))
            return
        for address, answer in zip(addresses, answers, strict=True):
            apply(address, answer)

    def _subscription(self, address: str) -> GraphRequest:
        body = {
            "changeType": CHANGE_TYPES,
            "notificationUrl": self.url,
            "lifecycleNotificationUrl": self.url,
            "resource": f"{user_path(address).lstrip('/')}/events",
            "expirationDateTime": _graph_time(_now() + self.lifetime),
            "clientState": self.client_state,
        }
        return GraphRequest("POST", "/subscriptions", body)

    def _subscribed(self, address: str, answer: GraphResponse) -> None:
        if not answer.ok:
            self._lapse(address, _refusal("creating the subscription", answer))
            return
        self.live[address] = _Live(str(answer.body["id"]), _expiration(answer.body))
        self.lapsed.pop(address, None)
        self._report()

    def _renew_due(self) -> None:
        now = _now()
        due = [a for a, live in self.live.items() if live.expiration - self.lifetime / 2 <= now]
        self._each(due, self._renewal, self._renewed)

    def _renew(self, address: str) -> None:
        self._each([address], self._renewal, self._renewed)

    def _renewal(self, address: str) -> GraphRequest:
        body = {"expirationDateTime": _graph_time(_now() + self.lifetime)}
        return GraphRequest("PATCH", f"/subscriptions/{self.live[address].id}", body)

    def _renewed(self, address: str, answer: GraphResponse) -> None:
        if answer.status == 404:
            self._lapse(
                address, "Microsoft Graph no longer knows the subscription (404 on renewal)"
            )
            self._subscribe(address)
        elif not answer.ok:
            self._lapse(address, _refusal("renewing the subscription", answer))
        else:
            self.live[address].expiration = _expiration(answer.body)

    def _unsubscribe(self, addresses: list[str]) -> None:
        """End the mailboxes' subscriptions (Graph forgets them; one it no longer knows is
        gone anyway)."""
        self._each(addresses, self._deletion, lambda address, _: self.live.pop(address, None))

    def _deletion(self, address: str) -> GraphRequest:
        return GraphRequest("DELETE", f"/subscriptions/{self.live[address].id}")

    def _clear_leftovers(self) -> None:
        """Delete this URL's subscriptions an earlier process left (a crash, a kill): they
        would notify twice."""
        try:
            answer = self.client.send(GraphRequest("GET", "/subscriptions"), "the subscriptions")
            if not answer.ok:
                return
            ours = [
                found
                for found in answer.body.get("value", [])
                if found.get("notificationUrl") == self.url
            ]
            deletions = [GraphRequest("DELETE", f"/subscriptions/{found['id']}") for found in ours]
            if deletions:
                self.client.batch(deletions, "the subscriptions", CALENDARS)
        except MailboxError as error:
            log.warning("the subscriptions an earlier msext left could not be deleted: %s", error)


_TICK = Notice("", "", "", datetime.min.replace(tzinfo=UTC))
"""A turn of the loop without a notice (a renewal or a retry is due)."""


def _now() -> datetime:
    return datetime.now(UTC)


def _graph_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _expiration(body: Any) -> datetime:
    return datetime.fromisoformat(str(body["expirationDateTime"])).astimezone(UTC)


def _refusal(doing: str, answer: GraphResponse) -> str:
    code, message = answer.error
    return f"Microsoft Graph refused {doing}: {answer.status} {code} {message}".rstrip()
