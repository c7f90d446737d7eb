"""Adding or editing one notification rule: the event, optional conditions (queue,
priority, organization), the channels it posts to, active."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, SelectionList, Static

from console.screens.teams.editing import problem_line, save_teams
from console.screens.teams.overview import EVENT_NAMES
from engine.errors import SettingsError, UserError
from engine.profile import Profile
from engine.settings.teams import NotificationRule, TeamsEvent


def _listed(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _organizations(text: str) -> list[int | str]:
    """Company ids as numbers; anything else stays text, for the model to refuse."""
    return [int(part) if part.isdigit() else part for part in _listed(text)]


class RuleDialog(ModalScreen[bool]):
    """Returns whether the rule was saved."""

    CSS_PATH = "teams.tcss"
    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel", id="rule_cancel")]

    def __init__(self, profile: Profile, rule_id: int | None) -> None:
        super().__init__()
        self.profile = profile
        rules = profile.settings.teams.rules
        self.rule_id = rule_id if rule_id is not None else max(rules, default=0) + 1
        self.rule = rules.get(self.rule_id) or NotificationRule(event=TeamsEvent.TICKET_CREATED)
        self.new = rule_id is None

    def compose(self) -> ComposeResult:
        rule, conditions = self.rule, self.rule.conditions
        channels = self.profile.settings.teams.channels
        with VerticalScroll(classes="dialog", id="rule-dialog"):
            heading = "New rule" if self.new else f"Rule {self.rule_id}"
            yield Static(heading, classes="question", markup=False)
            yield Label("Event")
            yield Select(
                [(name, event.value) for event, name in EVENT_NAMES.items()],
                value=rule.event.value,
                allow_blank=False,
                compact=True,
                id="rule-event",
            )
            yield Label("Conditions (optional; several values with commas)")
            for name, values, hint in (
                ("queues", conditions.queues, "any queue"),
                ("priorities", conditions.priorities, "any priority"),
                ("organizations", conditions.organizations, "any (PSA company ids)"),
            ):
                with Horizontal(classes="condition"):
                    yield Label(name.capitalize())
                    yield Input(", ".join(map(str, values)), placeholder=hint, id=f"rule-{name}")
            yield Label("Channels")
            yield SelectionList[int](
                *(
                    (
                        channel.name or f"channel {channel_id}",
                        channel_id,
                        channel_id in rule.channels,
                    )
                    for channel_id, channel in sorted(channels.items())
                ),
                id="rule-channels",
                compact=True,
            )
            yield Checkbox("Active", rule.active, compact=True, id="rule-active")
            yield Static("", id="rule-problem", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Save", variant="primary", compact=True, id="save")
                yield Button("Cancel", compact=True, id="cancel")

    def on_mount(self) -> None:
        self.query_one("#rule-event").focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#save")
    def _save(self) -> None:
        values: dict[str, Any] = {
            "event": self.query_one("#rule-event", Select).value,
            "conditions": {
                "queues": _listed(self.query_one("#rule-queues", Input).value),
                "priorities": _listed(self.query_one("#rule-priorities", Input).value),
                "organizations": _organizations(self.query_one("#rule-organizations", Input).value),
            },
            "channels": sorted(self.query_one("#rule-channels", SelectionList).selected),
            "active": self.query_one("#rule-active", Checkbox).value,
        }

        def change(document: dict[str, Any]) -> None:
            rules = document.setdefault("teams", {}).setdefault("rules", {})
            rules[str(self.rule_id)] = values

        try:
            save_teams(self.profile, change, f"teams.rules.{self.rule_id}")
        except (SettingsError, UserError) as error:
            self.query_one("#rule-problem", Static).update(f"! {problem_line(error)}")
            return
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)
