"""The demo's MS Teams: two channels and the rules that post to them.

*IT Alerts* hears msext's own problems (a user's sync error, a held mass deletion, AD sync
conflicts and failures): the demo's first sync posts Chloe's impersonation error there,
once. *Service Desk* hears PSA tickets (new ones, high priority and up, and status
changes); its workflow was removed in Teams, so its webhook answers 410 to its first post
and delivery inactivates the channel, as the vendor's module does.
"""

from __future__ import annotations

import secrets

from engine.paths import ProfilePaths
from engine.settings.model import Settings
from engine.settings.secrets import write_secret_file
from engine.settings.teams import TeamsEvent
from engine.teams.sandbox import answer_next

IT_ALERTS = 1
SERVICE_DESK = 2
WEBHOOK_SECRETS = {IT_ALERTS: "teams-it-alerts", SERVICE_DESK: "teams-service-desk"}
"""The secret files that hold each channel's webhook URL."""
GONE_CHANNEL = SERVICE_DESK
"""The channel whose webhook answers 410 (the workflow was removed) to its first post."""


def demo_teams_settings() -> dict[str, object]:
    """The ``teams`` section of the demo's settings."""
    channels = {
        str(IT_ALERTS): {
            "name": "IT Alerts",
            "description": "msext's sync errors and AD sync problems",
        },
        str(SERVICE_DESK): {
            "name": "Service Desk",
            "description": "New and changed PSA tickets",
        },
    }
    for channel_id, channel in channels.items():
        channel |= {"webhook": f"file:{WEBHOOK_SECRETS[int(channel_id)]}", "active": True}
    own = (
        TeamsEvent.SYNC_ERROR,
        TeamsEvent.MASS_DELETION_HELD,
        TeamsEvent.ADSYNC_CONFLICT,
        TeamsEvent.ADSYNC_FAILURE,
    )
    rules: list[dict[str, object]] = [
        {"event": event.value, "channels": [IT_ALERTS], "active": True} for event in own
    ]
    rules += [
        {
            "event": TeamsEvent.TICKET_CREATED.value,
            "conditions": {"priorities": ["Critical", "High"]},
            "channels": [SERVICE_DESK],
            "active": True,
        },
        {
            "event": TeamsEvent.TICKET_STATUS_CHANGED.value,
            "channels": [SERVICE_DESK],
            "active": True,
        },
    ]
    return {
        "channels": channels,
        "rules": {str(number): rule for number, rule in enumerate(rules, start=1)},
    }


def seed_demo_webhooks(paths: ProfilePaths) -> None:
    """Each demo channel's webhook URL, in its secret file: a Workflows webhook on this
    machine, signed like the ones Power Automate gives."""
    for secret_name in WEBHOOK_SECRETS.values():
        url = (
            "https://127.0.0.1/powerautomate/automations/direct/workflows/"
            f"{secrets.token_hex(16)}/triggers/manual/paths/invoke?api-version=1"
            f"&sig={secrets.token_urlsafe(32)}"
        )
        write_secret_file(paths, secret_name, url)


def remove_workflow(paths: ProfilePaths, settings: Settings) -> None:
    """The sandbox's Service Desk webhook answers 410 to its first post: its workflow was
    removed in Teams (delivery inactivates the channel and logs why)."""
    answer_next(paths, settings, GONE_CHANNEL, 410)
