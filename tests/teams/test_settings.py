"""MS Teams settings: channels keep their webhook by reference, and rules name channels."""

from __future__ import annotations

import pytest

from engine.errors import SettingsError
from engine.paths import ProfilePaths
from engine.settings.store import SettingsStore, validate

CHANNEL = {"name": "Service desk", "webhook": "file:teams-service-desk", "active": True}


def problems(document: dict) -> dict[str, str]:
    with pytest.raises(SettingsError) as caught:
        validate(document, origin="test")
    return caught.value.problems


def test_a_channel_is_filled_in_one_value_at_a_time_then_activated() -> None:
    store = SettingsStore(ProfilePaths.for_profile("t"), environ={})
    store.set_value("teams.channels.1.name", "Service desk")
    store.set_value("teams.channels.1.webhook", "file:teams-service-desk")
    settings = store.set_value("teams.channels.1.active", "true")
    assert settings.teams.channels[1].active
    assert "teams-service-desk" in store.path.read_text()


def test_a_webhook_url_is_never_stored_in_the_config_file() -> None:
    """The URL carries the workflow's signature: only a secret reference is accepted, and
    the message does not repeat what was typed."""
    url = "https://prod-01.westeurope.logic.azure.com/workflows/1/triggers/manual?sig=Zm9vYmFy"
    found = problems({"teams": {"channels": {"1": {**CHANNEL, "webhook": url}}}})
    assert "secret reference" in found["teams.channels.1.webhook"]
    assert "Zm9vYmFy" not in str(found)


@pytest.mark.parametrize(
    ("channel", "key", "words"),
    [
        ({**CHANNEL, "webhook": None}, "webhook", "secret reference"),
        ({**CHANNEL, "name": " "}, "name", "name the channel"),
    ],
)
def test_an_active_channel_is_complete(channel: dict, key: str, words: str) -> None:
    found = problems({"teams": {"channels": {"1": channel}}})
    assert words in found[f"teams.channels.1.{key}"]


def test_a_rule_posts_to_channels_that_exist() -> None:
    rule = {"event": "ticket_created", "channels": [1, 2], "active": True}
    found = problems({"teams": {"channels": {"1": CHANNEL}, "rules": {"7": rule}}})
    assert "no channel 2" in found["teams.rules.7.channels"]
    found = problems({"teams": {"rules": {"7": {**rule, "channels": []}}}})
    assert "at least one channel" in found["teams.rules.7.channels"]


def test_rules_using_a_channel() -> None:
    settings = validate(
        {
            "teams": {
                "channels": {"1": CHANNEL, "2": {**CHANNEL, "name": "Alerts"}},
                "rules": {
                    "3": {"event": "sync_error", "channels": [2], "active": True},
                    "4": {"event": "ticket_created", "channels": [1, 2], "active": False},
                },
            }
        },
        origin="test",
    )
    assert settings.teams.rules_using(2) == [3, 4]
    assert settings.teams.rules_using(2, active_only=True) == [3]
    assert settings.teams.rules_using(1, active_only=True) == []
