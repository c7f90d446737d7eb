"""Admin > ... > Microsoft Extensions > MS Outlook: the administrator's limits for its users."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from console.forms import Field
from console.navigation import Navigator
from console.screens.admin import MicrosoftExtensionsScreen
from console.screens.settings_page import Item, SettingsPage
from engine.humanize import count

LIMITS: tuple[Item, ...] = (
    "What users may sync with the MS Outlook extension",
    Field("outlook.limits.allow_appointments", "Appointments", "check"),
    Field("outlook.limits.allow_contacts", "Contacts", "check"),
    Field("outlook.limits.allow_todos", "To-dos", "check"),
    Field("outlook.limits.allow_service_calls", "Service calls", "check"),
    Field(
        "outlook.limits.max_contact_scope",
        "Widest contact scope users may choose",
        "select",
        (("All contacts", "all"), ("Account manager or opportunity owner", "owned")),
    ),
    Field(
        "outlook.limits.min_interval_minutes",
        "Shortest sync interval users may choose (minutes)",
        "int",
    ),
)

ABOUT = (
    "The MS Outlook extension is a client installed on every workstation (download: Admin >"
    " Features & Settings > Application-wide (shared) features > Downloads > MS Outlook"
    " extension). It syncs only while Outlook is open, at the interval each user sets, and"
    " adds the PSA's actions inside Outlook."
)
R11_NOTE = (
    "For a user with the MS Exchange extension enabled, the Outlook extension's \"send"
    ' selected contacts" and "send selected appointments" are disabled (R11). To sync'
    " contacts in Outlook while MS Exchange is enabled, enable contact integration in the"
    ' Outlook extension and clear "Share contacts for which the resource is account manager'
    ' or opportunity owner" on the MS Exchange page (R12).'
)


class OutlookScreen(SettingsPage):
    CRUMB = "MS Outlook"
    PARENT = MicrosoftExtensionsScreen
    SUMMARY = "The Outlook extension on each workstation: the administrator's limits"
    CSS_PATH = "../settings.tcss"
    HELP = (
        "The administrator's limits for the MS Outlook extension: which item types users may"
        " sync, the widest contact scope and the shortest interval they may choose. Users"
        " choose within these limits in their Outlook extension's options."
    )

    @classmethod
    def menu_state(cls, console: Navigator) -> str:
        profile = console.profile
        installed = [
            resource
            for resource in profile.resources()
            if profile.settings.user(resource.id).outlook.installed
        ]
        return f"installed for {count(len(installed), 'user')}"

    def compose_page(self) -> ComposeResult:
        yield from self.compose_status()
        with VerticalScroll(id="outlook-form"):
            yield Static(ABOUT, classes="note", markup=False)
            yield Static(self.usage(), id="outlook-usage", markup=False)
            yield Static(R11_NOTE, classes="note", markup=False)
            yield from self.compose_fields(LIMITS)
        yield from self.compose_actions()

    def usage(self) -> str:
        profile = self.msext.profile
        comparisons = [profile.comparison(resource) for resource in profile.resources()]
        installed = [c for c in comparisons if c.outlook_installed]
        affected = [c for c in installed if c.exchange_enabled]
        return (
            f"Installed for {count(len(installed), 'user')}; for {len(affected)} of them MS"
            " Exchange is enabled too, so their Outlook send actions are disabled."
        )

    def after_save(self) -> None:
        self.query_one("#outlook-usage", Static).update(self.usage())
