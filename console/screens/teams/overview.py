"""What the MS Teams page shows of channels and rules, read from the settings and from
MS Teams' state (the outbox's posts, the error log)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from engine.errors import UserError
from engine.profile import Profile
from engine.settings.teams import NotificationRule, TeamsChannel, TeamsEvent, TeamsSettings
from engine.teams.cards import as_text
from engine.teams.channels import masked, webhook_url
from engine.teams.sandbox import received_cards

DAY_SECONDS = 24 * 3600
LAST_CARDS = 3
"""Cards of a sandbox channel shown below the table."""
GONE = {404: "channel not found", 410: "webhook removed"}
"""The webhook answers that inactivate a channel at once."""


@dataclass(frozen=True)
class ChannelRow:
    id: int
    name: str
    description: str
    webhook: str
    """The webhook URL masked: its scheme and host only, never the signed path."""
    active: bool
    active_rules: int
    alerts_24h: int
    inactivated: str
    """Why delivery inactivated it (a 404 or 410 in the error log), or nothing."""


def masked_webhook(channel_id: int, channel: TeamsChannel, profile: Profile) -> str:
    """Where the webhook goes (never its signature), or why it cannot be read."""
    if channel.webhook is None:
        return "not set"
    try:
        return masked(webhook_url(channel_id, channel, profile.paths))
    except UserError:
        return f"unreadable ({channel.webhook})"


def received_lines(profile: Profile, channel_id: int, channel: TeamsChannel) -> list[str]:
    """On a profile that runs the emulators, the last cards the channel received, as text."""
    if not profile.settings.sandbox.enabled:
        return []
    cards = received_cards(profile.paths, channel_id, channel, last=LAST_CARDS)
    if not cards:
        return ["The sandbox's channel has received no card yet."]
    lines = [f"Last {len(cards)} card(s) the sandbox's channel received, newest first:"]
    for card in reversed(cards):
        lines += ["", *as_text(card)]
    return lines


def channel_rows(profile: Profile, now: float | None = None) -> list[ChannelRow]:
    teams = profile.settings.teams
    state = profile.teams if profile.paths.teams_db.exists() or teams.channels else None
    since = (now or time.time()) - DAY_SECONDS
    rows = []
    for channel_id, channel in sorted(teams.channels.items()):
        inactivated = ""
        if state is not None and not channel.active:
            last = state.errors(limit=1, channel_id=channel_id)
            if last and last[0].status in GONE:
                entry = last[0]
                inactivated = (
                    f"inactivated {entry.at:%Y-%m-%d %H:%M}: the webhook answered"
                    f" {entry.status} ({GONE[entry.status or 0]})"
                )
        rows.append(
            ChannelRow(
                id=channel_id,
                name=channel.name,
                description=channel.description,
                webhook=masked_webhook(channel_id, channel, profile),
                active=channel.active,
                active_rules=len(teams.rules_using(channel_id, active_only=True)),
                alerts_24h=state.sent_count(channel_id, since) if state else 0,
                inactivated=inactivated,
            )
        )
    return rows


def conditions_text(rule: NotificationRule, company_names: dict[int, str]) -> str:
    conditions = rule.conditions
    parts = []
    if conditions.queues:
        parts.append("queue " + " or ".join(conditions.queues))
    if conditions.priorities:
        parts.append("priority " + " or ".join(conditions.priorities))
    if conditions.organizations:
        named = (company_names.get(c, f"company {c}") for c in conditions.organizations)
        parts.append("organization " + " or ".join(named))
    return "; ".join(parts) or "any"


def channel_names(teams: TeamsSettings, ids: list[int]) -> str:
    return ", ".join(teams.channels[c].name or f"channel {c}" for c in ids if c in teams.channels)


EVENT_NAMES = {
    TeamsEvent.TICKET_CREATED: "Ticket created",
    TeamsEvent.TICKET_ASSIGNED: "Ticket assigned",
    TeamsEvent.TICKET_STATUS_CHANGED: "Ticket status changed",
    TeamsEvent.TICKET_PRIORITY_CHANGED: "Ticket priority changed",
    TeamsEvent.TICKET_DUE_SOON: "Ticket due soon",
    TeamsEvent.SERVICE_CALL_CREATED: "Service call created",
    TeamsEvent.SERVICE_CALL_RESCHEDULED: "Service call rescheduled",
    TeamsEvent.SERVICE_CALL_RESOURCES_CHANGED: "Service call resources changed",
    TeamsEvent.SYNC_ERROR: "A user's sync error",
    TeamsEvent.MASS_DELETION_HELD: "Mass deletion held",
    TeamsEvent.ADSYNC_CONFLICT: "AD sync conflicts",
    TeamsEvent.ADSYNC_FAILURE: "AD sync failed",
}
"""Each event as the Rules tab names it, in the order its list offers them."""
