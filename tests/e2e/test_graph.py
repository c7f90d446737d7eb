"""What only Microsoft Graph has: throttling with Retry-After, delta links that expire or
belong to another window, application permissions, and a switch from EWS (R19)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from exchangelib.protocol import close_connections

from engine.exchange.mailbox.base import FolderKind
from engine.profile import Profile
from engine.settings.secrets import write_secret_file
from tests.certificate import self_signed
from tests.e2e.harness import AVA, BEN, SMALL, Harness
from tests.e2e.test_resilience import snapshot


@pytest.fixture
def harness() -> Iterator[Harness]:
    harness = Harness.create(api="graph")
    yield harness
    close_connections()
    harness.close()


def totals(result) -> tuple[int, int, int]:
    return result.totals["created"], result.totals["updated"], result.totals["deleted"]


def calendar_state(harness: Harness, resource_id: int = 1) -> dict:
    profile = Profile(harness.paths)
    try:
        return json.loads(profile.state.sync_state(resource_id, FolderKind.CALENDAR) or "{}")
    finally:
        profile.close()


def delta_checks(harness: Harness) -> int:
    """The synced folders with a delta link: one idle check each."""
    profile = Profile(harness.paths)
    try:
        return sum(
            profile.state.sync_state(resource.id, folder) is not None
            for resource in profile.psa.resources()
            for folder in (FolderKind.CALENDAR, FolderKind.CONTACTS)
        )
    finally:
        profile.close()


def settled_with_every_mailbox(harness: Harness) -> None:
    """Every demo mailbox inside the access policy, synced until idle: each enabled user
    has delta links (a refused mailbox would ask its first round alone in every run)."""
    for address, _ in harness.emulator.mailboxes():
        harness.emulator.grant(address)
    harness.settled()


def requests_of(harness: Harness, **options: object) -> dict[str, int]:
    """The Graph requests a run sends, by operation (a ``$batch`` counts as one)."""
    assert harness.graph is not None
    harness.graph.stats.reset()
    harness.sync(**options)
    return dict(harness.graph.stats.by_operation)


def test_an_idle_run_checks_every_mailbox_in_batches_of_20() -> None:
    """R19: a run with nothing new asks every user's delta links in JSON batches of 20
    across mailboxes, not one GET each; a person's changes in two mailboxes are found by
    the batched checks and imported as before, and the next run is idle again."""
    harness = Harness.create(size=replace(SMALL, resources=16), api="graph")
    try:
        settled_with_every_mailbox(harness)
        checks = delta_checks(harness)
        batches = math.ceil(checks / 20)
        assert checks > 20 and requests_of(harness) == {"$batch": batches}
        before = snapshot(harness)
        for address in (AVA, BEN):
            harness.person_appointment(address, f"Booked by {address}", 2, 9)
        changed = requests_of(harness)
        assert changed["$batch"] >= batches and "calendarView.delta" not in changed
        titles = {row["title"] for row in harness.imported()}
        assert {f"Booked by {AVA}", f"Booked by {BEN}"} <= titles
        assert requests_of(harness) == {"$batch": batches}
        assert snapshot(harness)["stamped"] == before["stamped"]
    finally:
        close_connections()
        harness.close()


def test_an_expired_delta_link_inside_a_batch_is_pulled_afresh_alone(harness: Harness) -> None:
    """R04, R19: a 410 answered inside the batch of idle checks is taken as the same answer
    to a GET: that folder alone is pulled afresh (one delta round), nothing is duplicated."""
    settled_with_every_mailbox(harness)
    before = snapshot(harness)
    harness.graph.expire_delta(1)
    sent = requests_of(harness)
    assert harness.graph.state.expire_next == 0
    assert sent.get("calendarView.delta", 0) + sent.get("contacts.delta", 0) == 1
    assert totals(harness.sync()) == (0, 0, 0)
    assert snapshot(harness) == before


def test_checks_throttled_inside_a_batch_go_again_after_retry_after(harness: Harness) -> None:
    """R19: idle checks answered 429 inside the batch are asked again, in a batch, once
    their Retry-After has passed; the run is idle and none is asked alone."""
    settled_with_every_mailbox(harness)
    harness.graph.throttle(2, retry_after=1)
    assert requests_of(harness) == {"$batch": 2}
    assert harness.graph.state.throttle.count == 0


def test_throttled_requests_wait_for_retry_after(harness: Harness) -> None:
    """R19: four requests answered 429 (inside batches too) are sent again after their
    Retry-After; the run ends as an unthrottled one does."""
    harness.graph.throttle(4, retry_after=1, after=3)
    result = harness.sync(AVA)
    (ava,) = result.users
    assert ava.outcome == "ok" and ava.totals["created"] > 0
    assert harness.graph.state.throttle.count == 0, "every 429 was answered"
    assert totals(harness.sync(AVA)) == (0, 0, 0)


def test_throttling_beyond_the_timeout_defers_the_user(harness: Harness) -> None:
    """R19: a Retry-After longer than the General tab's timeout is not slept through: the
    user is deferred to the next run with the reason, and that run catches up."""
    harness.set("exchange.general.timeout_seconds", "5")
    harness.graph.throttle(1000, retry_after=60)
    (ava,) = harness.sync(AVA).users
    assert ava.outcome == "deferred" and "back off for 60 s" in ava.message
    harness.graph.throttle(0)
    (ava,) = harness.sync(AVA).users
    assert ava.outcome == "ok" and ava.totals["created"] > 0


def test_expired_delta_link_resyncs_without_duplicates(harness: Harness) -> None:
    """R04: Graph forgot the delta links (410): the folders are pulled afresh, nothing is
    created twice and the person's new appointment still arrives."""
    harness.settled()
    before = snapshot(harness)
    harness.graph.expire_delta(2)
    harness.person_appointment(AVA, "After the expiry", 2, 9)
    harness.sync()
    assert harness.graph.state.expire_next == 0
    after = harness.settled()
    assert totals(after) == (0, 0, 0)
    assert snapshot(harness)["stamped"] == before["stamped"]
    assert any(row["title"] == "After the expiry" for row in harness.imported())


def test_a_new_week_follows_the_calendar_over_the_moved_window(harness: Harness) -> None:
    """R04, R10: Graph follows a calendar over a fixed span of whole weeks around the sync
    window; a run a week later starts a new delta round over the moved span and changes
    nothing that did not change."""
    harness.settled()
    first = calendar_state(harness)["span"]
    assert all(datetime.fromisoformat(edge).weekday() == 0 for edge in first), "Mondays"
    before = snapshot(harness)
    next_week = datetime.now(UTC) + timedelta(weeks=1)
    harness.sync(AVA, clock=lambda: next_week)
    moved = calendar_state(harness)["span"]
    assert moved[0] > first[0] and moved[1] > first[1]
    assert snapshot(harness)["stamped"] == before["stamped"]


def test_the_demo_over_graph_keeps_its_delta_links_from_run_to_run(harness: Harness) -> None:
    """R04, R19: the demo profile starts its emulators anew for each run, on other ports;
    the delta links a run keeps still lead the next run to the same calendars, which finds
    nothing changed."""
    harness.set("sandbox.enabled", "true")
    (first,) = harness.sync(AVA).users
    assert first.outcome == "ok" and first.totals["created"] > 0
    for _ in range(2):
        (again,) = harness.sync(AVA).users
        assert again.outcome == "ok", again.message
        assert (again.totals["created"], again.totals["deleted"]) == (0, 0)


def test_each_missing_graph_permission_is_named(harness: Harness) -> None:
    """R19: without Contacts.ReadWrite the app reads calendars but not contacts: the check
    of the permissions names the missing one and where to grant it; the sync of that user
    fails with the same words."""
    harness.graph.revoke_role("Contacts.ReadWrite")
    result = harness.cli("doctor", AVA, "--json")
    report = json.loads(result.stdout)
    checks = {check["key"]: check for check in report["checks"]}
    permissions = checks["permissions"]
    assert result.returncode == 2 and permissions["verdict"] == "failed"
    assert "contacts: Contacts.ReadWrite missing" in permissions["evidence"]
    assert "calendar: readable" in permissions["evidence"]
    assert "Contacts.ReadWrite" in permissions["fix"] and "admin consent" in permissions["fix"]
    assert checks["access_policy"]["verdict"] == "ok"
    (ava,) = harness.sync(AVA).users
    assert ava.outcome == "error" and "Contacts.ReadWrite" in ava.message


@pytest.mark.parametrize("psa", ["embedded", "rest"])
def test_switching_between_ews_and_graph_changes_nothing(psa: str) -> None:
    """R19: a tenant moving from EWS to Graph (and back): the two APIs spell the same items'
    ids differently; the links and the PSA's imports follow the new spelling (over the REST
    API, the origin each imported record carries), so the first run after the switch
    creates, updates, deletes and imports nothing."""
    harness = Harness.create(psa=psa)
    try:
        harness.settled()
        before = snapshot(harness)
        harness.use_graph()
        assert totals(harness.sync()) == (0, 0, 0)
        assert snapshot(harness) == before
        harness.set("exchange.general.mailbox_api", "ews")
        assert totals(harness.sync()) == (0, 0, 0)
        assert snapshot(harness) == before
    finally:
        close_connections()
        harness.close()


def test_a_certificate_signs_in_instead_of_a_client_secret() -> None:
    """R19: the secret reference names a PEM file with the certificate and its key: the app
    signs in with an assertion and the sync runs; a certificate the app registration does
    not know is refused with what to do."""
    pem, certificate = self_signed()
    harness = Harness.create()
    try:
        harness.use_graph(certificate=certificate)
        write_secret_file(harness.paths, "graph-app.pem", pem)
        harness.set("exchange.general.secret", "file:graph-app.pem")
        (ava,) = harness.sync(AVA).users
        assert ava.outcome == "ok" and ava.totals["created"] > 0
        write_secret_file(harness.paths, "graph-app.pem", self_signed("unknown")[0])
        result = harness.cli("sync", "--once", "--user", AVA, "--json")
        assert result.returncode == 1, "the user's run failed, with the reason"
        (reason,) = [user["message"] for user in json.loads(result.stdout)["users"]]
        assert "AADSTS700027" in reason and "upload this certificate" in reason
    finally:
        close_connections()
        harness.close()
