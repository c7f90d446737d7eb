"""The Graph mailbox watcher (issue 21): its https receiver, and ``serve`` against the Graph
peer over sockets: subscriptions, notifications reaching ``on_change``, renewal, lapses
reported and re-created, and polling without an endpoint."""

from __future__ import annotations

import logging
import queue
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from exchangelib import UTC as EWS_UTC
from exchangelib import EWSDateTime
from exchangelib.protocol import close_connections

from engine.exchange.mailbox.graph_notifications import serve
from engine.exchange.mailbox.graph_receiver import Notice, Receiver
from engine.exchange.watch import WatchReport
from engine.paths import ProfilePaths
from engine.sandbox.ews import EwsEmulator, MailboxSpec
from engine.sandbox.graph import GraphEmulator
from engine.sandbox.graph.subscriptions import Subscription
from engine.settings.model import Settings
from tests.certificate import free_port, receiver_files
from tests.sandbox.notifications import (
    CLIENT,
    EVENT,
    SECRET,
    TENANT,
    graph_client,
    notifying_graph,
)
from tests.sandbox.peer import ALICE, BOB, SERVICE, impersonate, save_appointment

USERS = {ALICE: 1, BOB: 2}


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The receiver's certificate (also the CA file the peer trusts) and key."""
    return receiver_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def graph(tls: tuple[Path, Path]) -> Iterator[GraphEmulator]:
    with notifying_graph(tls[0], BOB) as peer:
        yield peer


@pytest.fixture
def paths(tmp_path: Path) -> ProfilePaths:
    return ProfilePaths("t", *(tmp_path / name for name in ("config", "data", "state", "log")))


def settings(graph: GraphEmulator | None, tls: tuple[Path, Path], notify: bool = True) -> Settings:
    """Graph at ``graph``; without one, the profile's sandbox (its own emulators)."""
    port = free_port()
    receiver = {
        "notification_url": f"https://127.0.0.1:{port}/msext/graph",
        "notification_listen": f"127.0.0.1:{port}",
        "notification_certificate": str(tls[0]),
        "notification_key": str(tls[1]),
    }
    where = (
        {"oauth_token_url": graph.token_url, "graph_url": graph.url}
        if graph is not None
        else {"sync_account": SERVICE[0]}
    )
    general = {
        "server_type": "office365",
        "mailbox_api": "graph",
        "oauth_tenant_id": TENANT,
        "oauth_client_id": CLIENT,
        "secret": "env:MSEXT_SECRET_GRAPH",
        **where,
        **(receiver if notify else {}),
    }
    document = {"exchange": {"general": general}, "sandbox": {"enabled": graph is None}}
    return Settings.model_validate(document)


@dataclass
class Watcher:
    """``serve`` on a thread, its reports and changes in queues."""

    reports: queue.Queue[WatchReport] = field(default_factory=queue.Queue)
    changes: queue.Queue[tuple[int, datetime]] = field(default_factory=queue.Queue)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(
        self,
        settings: Settings,
        paths: ProfilePaths,
        users: Mapping[str, int] = USERS,
        **options: object,
    ) -> None:
        def on_change(user: int, at: datetime) -> None:
            self.changes.put((user, at))

        self.thread = threading.Thread(
            target=serve,
            args=(settings, paths, lambda: users, on_change, self.reports.put, self.stop),
            kwargs=options,
            daemon=True,
        )
        self.thread.start()

    def report_where(self, holds: Callable[[WatchReport], bool]) -> WatchReport:
        """The first report (from now) that ``holds``, within 10 s."""
        deadline = time.monotonic() + 10
        while True:
            report = self.reports.get(timeout=max(0.0, deadline - time.monotonic()))
            if holds(report):
                return report

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=10)
            assert not self.thread.is_alive(), "serve returns when stop is set"


@pytest.fixture
def watcher(monkeypatch: pytest.MonkeyPatch) -> Iterator[Watcher]:
    monkeypatch.setenv("MSEXT_SECRET_GRAPH", SECRET)
    watcher = Watcher()
    yield watcher
    watcher.close()


def watching(count: int) -> Callable[[WatchReport], bool]:
    return lambda report: report.mode == "notifications" and report.watched == count


# -- the receiver ------------------------------------------------------------------------------


@pytest.fixture
def receiver(tls: tuple[Path, Path]) -> Iterator[tuple[Receiver, queue.Queue[Notice]]]:
    notices: queue.Queue[Notice] = queue.Queue()
    receiver = Receiver("127.0.0.1:0", str(tls[0]), str(tls[1]), "our-secret", notices.put)
    receiver.start()
    yield receiver, notices
    receiver.close()


def test_the_receiver_echoes_graphs_validation_token(
    receiver: tuple[Receiver, queue.Queue[Notice]], tls: tuple[Path, Path]
) -> None:
    """Graph's validation request (POST, ``validationToken`` URL-encoded in the query) is
    answered 200, text/plain, with the decoded token itself."""
    token = "Validation: Testing client application reachability Request-Id: 42"
    answer = httpx.post(
        f"https://127.0.0.1:{receiver[0].port}/graph",
        params={"validationToken": token},
        verify=ssl.create_default_context(cafile=tls[0]),
    )
    assert answer.status_code == 200 and answer.text == token
    assert answer.headers["content-type"].startswith("text/plain")


def test_a_wrong_client_state_is_ignored_and_logged(
    receiver: tuple[Receiver, queue.Queue[Notice]],
    tls: tuple[Path, Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Anyone may post to the URL: a notification without this installation's clientState
    is answered 202 (as Graph's would be) but goes no further, and the log says so; the
    right one in the same batch goes on."""
    entry = {"subscriptionId": "s-1", "changeType": "updated", "resource": "Users/x/Events/y"}
    body = {"value": [entry | {"clientState": "forged"}, entry | {"clientState": "our-secret"}]}
    with caplog.at_level(logging.WARNING):
        answer = httpx.post(
            f"https://127.0.0.1:{receiver[0].port}/graph",
            json=body,
            verify=ssl.create_default_context(cafile=tls[0]),
        )
    assert answer.status_code == 202
    notice = receiver[1].get(timeout=2)
    assert (notice.subscription_id, notice.change_type) == ("s-1", "updated")
    assert receiver[1].empty()
    assert "wrong clientState was ignored" in caplog.text and "forged" not in caplog.text


# -- serve against the peer --------------------------------------------------------------------


def test_a_change_through_the_peer_reaches_on_change_for_its_user(
    graph: GraphEmulator, tls: tuple[Path, Path], paths: ProfilePaths, watcher: Watcher
) -> None:
    """Both mailboxes subscribed in one JSON batch (one report for the round: notifications,
    2 watched); an event created in Bob's calendar reaches on_change for Bob's user within
    two seconds; at stop the subscriptions are deleted."""
    watcher.start(settings(graph, tls), paths)
    assert watching(2)(watcher.reports.get(timeout=10))
    assert sorted(found.mailbox for found in graph.subscriptions.all()) == sorted(USERS)
    calls = graph.stats.by_operation
    assert calls["$batch"] == 1 and calls["subscriptions.create"] == 0, "one batch for all"
    with graph_client(graph) as client:
        before = datetime.now(UTC)
        client.post(f"/users/{BOB}/events", json=EVENT).raise_for_status()
    user, at = watcher.changes.get(timeout=5)
    assert user == USERS[BOB] and (at - before) < timedelta(seconds=2)
    watcher.close()
    assert graph.subscriptions.all() == []


def test_subscriptions_an_earlier_process_left_are_deleted(
    graph: GraphEmulator, tls: tuple[Path, Path], paths: ProfilePaths, watcher: Watcher
) -> None:
    """A killed msext left a subscription to its URL (it would notify twice): the next
    watcher deletes it; another application's subscription stays."""
    profile = settings(graph, tls)
    url = profile.exchange.general.notification_url or ""
    expiration = datetime.now(UTC) + timedelta(days=1)
    for leftover, notification_url in (("old", url), ("other", "https://other.example/hook")):
        graph.subscriptions.add(
            Subscription(
                leftover,
                f"users/{ALICE}/events",
                ALICE,
                "events",
                "updated",
                notification_url,
                None,
                "x",
                expiration,
                CLIENT,
            )
        )
    watcher.start(profile, paths)
    watcher.report_where(watching(2))
    remaining = {found.id for found in graph.subscriptions.all()}
    assert "other" in remaining and "old" not in remaining and len(remaining) == 3


def test_subscriptions_are_renewed_before_they_expire(
    graph: GraphEmulator, tls: tuple[Path, Path], paths: ProfilePaths, watcher: Watcher
) -> None:
    """Subscriptions of two seconds are renewed (PATCH) at half their life: past their
    first expiration they are the same subscriptions, still notifying."""
    watcher.start(settings(graph, tls), paths, lifetime=timedelta(seconds=2))
    watcher.report_where(watching(2))
    first = {found.id: found.expiration for found in graph.subscriptions.all()}
    deadline = max(first.values()) + timedelta(seconds=0.5)
    while datetime.now(UTC) < deadline:
        time.sleep(0.1)
    now = {found.id: found.expiration for found in graph.subscriptions.all()}
    assert set(now) == set(first) and all(now[key] > first[key] for key in first)
    with graph_client(graph) as client:
        client.post(f"/users/{ALICE}/events", json=EVENT).raise_for_status()
    assert watcher.changes.get(timeout=5)[0] == USERS[ALICE]


def test_a_dropped_subscription_is_reported_and_created_again(
    graph: GraphEmulator, tls: tuple[Path, Path], paths: ProfilePaths, watcher: Watcher
) -> None:
    """Graph removes Alice's subscription (lifecycle ``subscriptionRemoved``): a report
    names her lapse and why, then a new subscription brings the watch back to two."""
    watcher.start(settings(graph, tls), paths)
    watcher.report_where(watching(2))
    (alice,) = [found for found in graph.subscriptions.all() if found.mailbox == ALICE]
    graph.subscriptions.drop(alice.id)
    lapsed = watcher.report_where(lambda report: ALICE in report.lapsed)
    assert "subscriptionRemoved" in lapsed.lapsed[ALICE] and lapsed.watched == 1
    back = watcher.report_where(watching(2))
    assert back.lapsed == {}
    (again,) = [found for found in graph.subscriptions.all() if found.mailbox == ALICE]
    assert again.id != alice.id


def test_a_subscription_lost_without_a_word_is_found_at_renewal(
    graph: GraphEmulator, tls: tuple[Path, Path], paths: ProfilePaths, watcher: Watcher
) -> None:
    """Graph drops Alice's subscription and its lifecycle notification never arrives: the
    renewal's 404 reports the lapse, and a new subscription follows."""
    watcher.start(settings(graph, tls), paths, lifetime=timedelta(seconds=2))
    watcher.report_where(watching(2))
    (alice,) = [found for found in graph.subscriptions.all() if found.mailbox == ALICE]
    graph.subscriptions.drop(alice.id, silently=True)
    lapsed = watcher.report_where(lambda report: ALICE in report.lapsed)
    assert "404 on renewal" in lapsed.lapsed[ALICE]
    watcher.report_where(watching(2))
    assert ALICE in {found.mailbox for found in graph.subscriptions.all()}


def test_lifecycle_notifications_renew_or_resync(
    graph: GraphEmulator, tls: tuple[Path, Path], paths: ProfilePaths, watcher: Watcher
) -> None:
    """``reauthorizationRequired`` renews the subscription at once (its expiration moves
    on); ``missed`` syncs the mailbox's user, since changes went unannounced."""
    watcher.start(settings(graph, tls), paths)
    watcher.report_where(watching(2))
    (bob,) = [found for found in graph.subscriptions.all() if found.mailbox == BOB]
    graph.subscriptions.lifecycle(bob, "missed")
    assert watcher.changes.get(timeout=5)[0] == USERS[BOB]
    graph.subscriptions.lifecycle(bob, "reauthorizationRequired")
    deadline = time.monotonic() + 5
    while graph.subscriptions.get(bob.id).expiration == bob.expiration:
        assert time.monotonic() < deadline, "the subscription was not renewed"
        time.sleep(0.05)
    assert watcher.changes.empty()


def test_the_sandbox_notifies_changes_another_process_writes(
    tls: tuple[Path, Path],
    paths: ProfilePaths,
    watcher: Watcher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A sandbox profile (the demo): the watcher's own emulators, on the profile's sandbox
    database, trust the receiver's certificate; an appointment another emulator on the same
    database saves (Outlook over EWS, ``msext sandbox``) reaches on_change for its user."""
    monkeypatch.setenv("MSEXT_SECRET_GRAPH", SERVICE[1])
    paths.ensure()
    mailboxes = [MailboxSpec(ALICE, "Alice")]
    outlook = EwsEmulator(db_path=paths.sandbox_db, service_account=SERVICE, mailboxes=mailboxes)
    try:
        watcher.start(settings(None, tls), paths, users={ALICE: 1})
        watcher.report_where(watching(1))
        outlook.start()
        start = EWSDateTime(2026, 11, 25, 10, tzinfo=EWS_UTC)
        save_appointment(impersonate(outlook), "Visit", start)
        assert watcher.changes.get(timeout=5)[0] == 1
    finally:
        close_connections()
        outlook.stop()


def test_a_refused_subscription_is_reported_never_silent(
    graph: GraphEmulator, tls: tuple[Path, Path], paths: ProfilePaths, watcher: Watcher
) -> None:
    """Bob's mailbox leaves the application access policy: his subscription is refused and
    reported with Graph's reason, while Alice's is watched."""
    graph.state.store.set_granted(BOB, False)
    watcher.start(settings(graph, tls), paths)
    report = watcher.report_where(lambda report: report.watched == 1 and BOB in report.lapsed)
    assert report.mode == "notifications" and "403" in report.lapsed[BOB]


def test_a_receiver_that_cannot_serve_reports_polling(
    graph: GraphEmulator, tls: tuple[Path, Path], paths: ProfilePaths, watcher: Watcher
) -> None:
    """A key file that does not exist: nothing subscribes and every mailbox is reported
    polled, with the reason in one line."""
    broken = settings(graph, tls)
    broken.exchange.general.notification_key = "/nonexistent/receiver.key"
    watcher.start(broken, paths)
    report = watcher.report_where(lambda report: report.lapsed != {})
    assert report.mode == "polling" and set(report.lapsed) == set(USERS)
    assert "cannot use the certificate" in report.lapsed[ALICE]
    assert graph.subscriptions.all() == []


def test_without_an_endpoint_nothing_subscribes_and_the_report_says_polling(
    graph: GraphEmulator, tls: tuple[Path, Path], paths: ProfilePaths, watcher: Watcher
) -> None:
    """No notification URL: one report (polling, nothing watched), no subscription, and
    serve returns once stop is set."""
    watcher.start(settings(graph, tls, notify=False), paths)
    report = watcher.reports.get(timeout=5)
    assert (report.api, report.mode, report.watched, dict(report.lapsed)) == (
        "graph",
        "polling",
        0,
        {},
    )
    assert graph.subscriptions.all() == []
