"""The outbox under SIGKILL: `msext daemon` killed at random points while it posts, then
restarted, loses no card and posts none twice (engine/teams/delivery.py says which moment
it cannot close; a card posted again after a kill is logged, and only such a card may be
seen twice)."""

from __future__ import annotations

import collections
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from engine.sandbox.teams import WorkflowsPeer
from tests.teams.delivery_harness import TeamsProfile, texts

KILLS = int(os.environ.get("MSEXT_TEAMS_KILLS", "20"))
"""The issue's 20 SIGKILLs; more by hand with MSEXT_TEAMS_KILLS."""
CARDS_PER_CHANNEL = 3 * KILLS
"""More than the kills' rounds post (each waits for a post, then up to 0.3 s more)."""


@pytest.fixture
def teams() -> Iterator[TeamsProfile]:
    with WorkflowsPeer() as peer:
        profile = TeamsProfile(peer)
        yield profile
        profile.state.close()


def daemon(teams: TeamsProfile) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "console.cli", "--profile", teams.paths.name, "daemon"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def received_count(teams: TeamsProfile) -> int:
    return sum(len(teams.peer.received(hook)) for hook in teams.hooks.values())


def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the daemon did not post in time"
        time.sleep(0.01)


@pytest.mark.slow
def test_kills_while_posting_lose_no_card_and_double_none(
    teams: TeamsProfile,
) -> None:
    for channel_id in (1, 2):
        teams.channel(channel_id, f"Channel {channel_id}")
        teams.enqueue(channel_id, *(f"{channel_id}-{n:03d}" for n in range(CARDS_PER_CHANNEL)))
    chance = random.Random(20)
    for _ in range(KILLS):
        before = received_count(teams)
        process = daemon(teams)
        wait_for(lambda before=before: received_count(teams) > before)
        time.sleep(chance.uniform(0, 0.3))
        process.kill()
        process.wait()
    assert teams.state.pending_count() > 0, "every kill fell while cards were waiting"
    process = daemon(teams)
    wait_for(lambda: teams.state.pending_count() == 0)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0

    settled = {item.card["body"][0]["text"]: item for item in teams.state.items()}
    posted_again = {text for text, item in settled.items() if item.in_doubt}
    posts = 0
    for channel_id, hook in teams.hooks.items():
        got = texts(teams.peer, hook)
        posts += len(got)
        expected = [f"{channel_id}-{n:03d}" for n in range(CARDS_PER_CHANNEL)]
        assert list(dict.fromkeys(got)) == expected, "a card was lost or out of order"
        doubled = {text for text, seen in collections.Counter(got).items() if seen > 1}
        assert doubled <= posted_again, "a card was posted twice outside the open moment"
    logged = {error.outbox_id for error in teams.state.errors()}
    assert {settled[text].id for text in posted_again} <= logged
    print(
        f"\n{KILLS} kills: {len(posted_again)} cards settled after a kill;"
        f" {posts} posts for {2 * CARDS_PER_CHANNEL} cards"
    )


def test_a_kill_after_the_webhook_took_the_card_does_not_post_it_again(
    teams: TeamsProfile,
) -> None:
    """The webhook has the card, its answer is late, msext is killed meanwhile: the card
    counts as posted after the restart, never posted twice, and the log says so."""
    hook = teams.channel(1, "Service desk")
    teams.peer.stall(hook, 30.0)
    teams.enqueue(1, "taken", "next")
    process = daemon(teams)
    wait_for(lambda: received_count(teams) == 1)
    process.kill()
    process.wait()
    process = daemon(teams)
    wait_for(lambda: teams.state.pending_count() == 0)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert texts(teams.peer, hook) == ["taken", "next"]
    (error,) = teams.state.errors()
    assert "counts as posted" in error.reason
