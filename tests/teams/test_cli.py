"""`msext teams channels|test|log`: the Channels tab, its Test button and the Error Log."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest

from console.cli import main
from engine.sandbox.teams import WorkflowsPeer
from engine.teams.delivery import serve_outbox
from tests.teams.delivery_harness import TeamsProfile, texts


@pytest.fixture
def teams() -> Iterator[TeamsProfile]:
    with WorkflowsPeer() as peer:
        profile = TeamsProfile(peer)
        yield profile
        profile.state.close()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["--profile", "teams", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_channels_lists_webhook_rules_and_posts_without_the_signature(
    teams: TeamsProfile, capsys: pytest.CaptureFixture[str]
) -> None:
    desk = teams.channel(1, "Service desk")
    teams.channel(2, "Alerts")
    teams.store.set_value("teams.channels.2.active", "false")
    teams.store.set_value("teams.rules.1.event", "ticket_created")
    teams.store.set_value("teams.rules.1.channels", "[1, 2]")
    teams.store.set_value("teams.rules.1.active", "true")
    teams.store.set_value("teams.rules.2.event", "sync_error")
    teams.store.set_value("teams.rules.2.channels", "[2]")
    teams.enqueue(1, "one", "two")
    teams.enqueue(2, "waits")
    teams.drain(teams.delivery())
    code, out, _ = run(capsys, "teams", "channels", "--json")
    assert code == 0
    first, second = json.loads(out)
    assert first == {
        "channel": 1,
        "name": "Service desk",
        "description": "",
        "active": True,
        "webhook": f"{teams.peer.base_url}/…",
        "active_rules": 1,
        "posted_24h": 2,
        "waiting": 0,
    }
    assert (second["active"], second["active_rules"], second["waiting"]) == (False, 1, 1)
    code, out, _ = run(capsys, "teams", "channels")
    assert code == 0 and "Service desk" in out and desk.signature not in out


def test_test_posts_a_test_card(teams: TeamsProfile, capsys: pytest.CaptureFixture[str]) -> None:
    desk = teams.channel(1, "Service desk")
    code, out, _ = run(capsys, "teams", "test", "service desk")
    assert code == 0 and "posted to channel 1 (Service desk)" in out
    assert texts(teams.peer, desk) == ["msext test card"]


def test_a_test_while_the_daemon_delivers_is_posted_by_it(
    teams: TeamsProfile, capsys: pytest.CaptureFixture[str]
) -> None:
    """One deliverer per profile: the test card waits for the daemon's delivery."""
    desk = teams.channel(1, "Service desk")
    stop = threading.Event()
    daemon = threading.Thread(target=serve_outbox, args=(teams.paths, stop), daemon=True)
    daemon.start()
    try:
        code, out, _ = run(capsys, "teams", "test", "1")
    finally:
        stop.set()
        daemon.join()
    assert code == 0 and "posted" in out
    assert texts(teams.peer, desk) == ["msext test card"]


def test_a_test_to_a_removed_webhook_says_so_and_inactivates_the_channel(
    teams: TeamsProfile, capsys: pytest.CaptureFixture[str]
) -> None:
    desk = teams.channel(1, "Service desk")
    teams.peer.answer(desk, 410)
    code, out, _ = run(capsys, "teams", "test", "1")
    assert code == 1 and "workflow was removed (410)" in out
    assert not teams.active(1)
    code, _, err = run(capsys, "teams", "test", "1")
    assert code == 2 and "inactive: activate it first" in err
    code, _, err = run(capsys, "teams", "test", "Sales")
    assert code == 2 and "no Teams channel 'Sales'; channels: 1 (Service desk)" in err


def test_log_shows_every_failed_post_newest_first(
    teams: TeamsProfile, capsys: pytest.CaptureFixture[str]
) -> None:
    desk = teams.channel(1, "Service desk")
    teams.peer.answer(desk, 503)
    teams.peer.answer(desk, 404)
    teams.enqueue(1, "card")
    teams.drain(teams.delivery())
    code, out, _ = run(capsys, "teams", "log", "--json")
    assert code == 0
    newest, oldest = json.loads(out)
    assert (oldest["status"], newest["status"]) == (503, 404)
    assert newest["name"] == "Service desk" and "inactivated" in newest["reason"]
    code, out, _ = run(capsys, "teams", "log", "--limit", "1")
    assert code == 0 and "404" in out and "503" not in out
