"""Which channels an event posts to: the active rules for its event whose conditions hold,
and their channels that are active. Each (event, channel) is queued once: the outbox keeps
the event's key per channel, so evaluating the same events again posts nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterable

from engine.settings.teams import NotificationRule, TeamsSettings
from engine.teams.alerts import Alert
from engine.teams.outbox import enqueue
from engine.teams.state import TeamsState


def _allows(wanted: list[str], value: str | None) -> bool:
    """An empty condition accepts everything; a condition on something the event does not
    have (a queue for a sync error, a ticket in no queue) accepts nothing."""
    if not wanted:
        return True
    return value is not None and value.casefold() in {item.casefold() for item in wanted}


def matches(rule: NotificationRule, alert: Alert) -> bool:
    """Whether the rule posts this event (its activity aside)."""
    conditions = rule.conditions
    organization = None if alert.organization_id is None else str(alert.organization_id)
    return (
        rule.event is alert.event
        and _allows(conditions.queues, alert.queue)
        and _allows(conditions.priorities, alert.priority)
        and _allows([str(company) for company in conditions.organizations], organization)
    )


def channels_for(teams: TeamsSettings, alert: Alert) -> list[int]:
    """The active channels of the active rules that match, each once, by id."""
    return sorted(
        {
            channel_id
            for rule in teams.rules.values()
            if rule.active and matches(rule, alert)
            for channel_id in rule.channels
            if (channel := teams.channels.get(channel_id)) is not None and channel.active
        }
    )


def post(state: TeamsState, teams: TeamsSettings, alerts: Iterable[Alert]) -> int:
    """Queue each event's card for its channels; how many cards were new to the outbox."""
    queued = 0
    for alert in alerts:
        for channel_id in channels_for(teams, alert):
            queued += enqueue(state, channel_id, alert.card, alert.key)
    return queued
