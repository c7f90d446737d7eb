"""On a profile that runs the emulators, the channels' Workflows webhooks are the sandbox's:
what every process posts is kept in one file, and the demo can make a webhook refuse."""

from __future__ import annotations

import secrets
import time

from engine.paths import ProfilePaths
from engine.settings.secrets import write_secret_file
from engine.settings.store import SettingsStore
from engine.teams.delivery import Delivery
from engine.teams.outbox import enqueue
from engine.teams.sandbox import answer_next, received_cards
from engine.teams.state import TeamsState
from tests.teams.delivery_harness import card


def workflows_url() -> str:
    """A URL of the form Power Automate hands out, on no server of its own."""
    return (
        "https://127.0.0.1/powerautomate/automations/direct/workflows/"
        f"{secrets.token_hex(16)}/triggers/manual/paths/invoke?api-version=1"
        f"&sig={secrets.token_urlsafe(32)}"
    )


def test_the_sandbox_serves_the_channels_webhooks() -> None:
    paths = ProfilePaths.for_profile("sandboxed")
    store = SettingsStore(paths)
    store.set_value("sandbox.enabled", "true")
    for channel_id, name in ((1, "IT Alerts"), (2, "Service Desk")):
        write_secret_file(paths, f"teams-{channel_id}", workflows_url())
        store.set_value(f"teams.channels.{channel_id}.name", name)
        store.set_value(f"teams.channels.{channel_id}.webhook", f"file:teams-{channel_id}")
        store.set_value(f"teams.channels.{channel_id}.active", "true")
    settings = store.load()
    answer_next(paths, settings, 2, 410)
    state = TeamsState(paths.teams_db)
    enqueue(state, 1, card("sync error"), "k1")
    enqueue(state, 2, card("ticket"), "k2")
    delivery = Delivery.for_profile(paths, state)
    try:
        while (wait := delivery.deliver_due()) is not None:
            time.sleep(wait)
    finally:
        delivery.close()
    settings = store.load()
    assert not settings.teams.channels[2].active
    assert [c["body"][0]["text"] for c in received_cards(paths, 1, settings.teams.channels[1])] == [
        "sync error"
    ]
    assert received_cards(paths, 2, settings.teams.channels[2]) == []
    (error,) = state.errors()
    assert error.status == 410
