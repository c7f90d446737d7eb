"""MS Teams settings: the channels notifications are posted to, and the rules that pick
which events post to which channels.

Mirrors Admin > Extensions & Integrations > Microsoft Extensions > MS Teams. A channel is
reached through a Power Automate Workflows webhook ("post to a channel when a webhook
request is received"); its URL carries the workflow's signature, so it is a secret, kept by
reference like the other secrets and never written into the config file.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, model_validator

from engine.settings.fields import FieldRuleError, SecretRef, Section, Text

MAX_CHANNELS = 1_000
MAX_RULES = 10_000
MAX_RULE_CHANNELS = 50


class TeamsChannel(Section):
    """One Teams channel, as the Channels tab lists it."""

    name: Text = ""
    description: Text = ""
    webhook: SecretRef | None = None
    """A reference to the Workflows webhook URL (``env:`` or ``file:``)."""
    active: bool = False
    """An inactive channel receives nothing (its cards wait in the outbox); delivery
    inactivates a channel whose webhook answers 404 (channel not found) or 410 (workflow
    removed)."""

    @model_validator(mode="after")
    def _webhook_when_active(self) -> TeamsChannel:
        if self.active and not self.name.strip():
            raise FieldRuleError("name", "name the channel to activate it")
        if self.active and self.webhook is None:
            raise FieldRuleError(
                "webhook", "set the secret reference of the channel's webhook URL to activate it"
            )
        return self


class TeamsEvent(StrEnum):
    """What a notification rule reacts to."""

    TICKET_CREATED = "ticket_created"
    TICKET_ASSIGNED = "ticket_assigned"
    TICKET_STATUS_CHANGED = "ticket_status_changed"
    TICKET_PRIORITY_CHANGED = "ticket_priority_changed"
    TICKET_DUE_SOON = "ticket_due_soon"
    SERVICE_CALL_CREATED = "service_call_created"
    SERVICE_CALL_RESCHEDULED = "service_call_rescheduled"
    SERVICE_CALL_RESOURCES_CHANGED = "service_call_resources_changed"
    SYNC_ERROR = "sync_error"
    MASS_DELETION_HELD = "mass_deletion_held"
    ADSYNC_CONFLICT = "adsync_conflict"
    ADSYNC_FAILURE = "adsync_failure"


class RuleConditions(Section):
    """Optional filters; an empty list accepts every value."""

    queues: list[Text] = Field(default_factory=list, max_length=MAX_RULE_CHANNELS)
    priorities: list[Text] = Field(default_factory=list, max_length=MAX_RULE_CHANNELS)
    organizations: list[int] = Field(default_factory=list, max_length=MAX_RULE_CHANNELS)
    """PSA company ids."""


class NotificationRule(Section):
    """An event, optional conditions, the channels it posts to, and whether it is on.

    Channels and rules start inactive, so that they can be filled in one value at a time
    (``msext config set``); activating one checks that it is complete."""

    event: TeamsEvent
    conditions: RuleConditions = Field(default_factory=RuleConditions)
    channels: list[int] = Field(default_factory=list, max_length=MAX_RULE_CHANNELS)
    active: bool = False

    @model_validator(mode="after")
    def _channels_when_active(self) -> NotificationRule:
        if self.active and not self.channels:
            raise FieldRuleError("channels", "choose at least one channel to activate the rule")
        return self


class TeamsSettings(Section):
    """Every channel and rule, by id."""

    channels: dict[int, TeamsChannel] = Field(default_factory=dict, max_length=MAX_CHANNELS)
    rules: dict[int, NotificationRule] = Field(default_factory=dict, max_length=MAX_RULES)

    @model_validator(mode="after")
    def _rules_name_known_channels(self) -> TeamsSettings:
        for rule_id, rule in self.rules.items():
            for channel_id in rule.channels:
                if channel_id not in self.channels:
                    raise FieldRuleError(
                        f"rules.{rule_id}.channels", f"there is no channel {channel_id}"
                    )
        return self

    def rules_using(self, channel_id: int, active_only: bool = False) -> list[int]:
        """The ids of the rules posting to a channel (the Channels tab's count; the rules
        named before the channel is deleted)."""
        return [
            rule_id
            for rule_id, rule in sorted(self.rules.items())
            if channel_id in rule.channels and (rule.active or not active_only)
        ]
