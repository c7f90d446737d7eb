"""Admin > Extensions & Integrations > Microsoft Extensions > MS Exchange: three tabs (R13)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.dom import DOMNode
from textual.widgets import Button, Select, Static, TabbedContent, TabPane

from console.forms import Draft, Field, FieldRow
from console.navigation import Navigator
from console.screens.admin import MicrosoftExtensionsScreen
from console.screens.exchange.resources import ResourcesPane
from console.screens.settings_page import Item, SettingsPage, step_line
from engine.exchange.connection_check import check_connection
from engine.exchange.setup import GRAPH_PERMISSIONS_NOTE
from engine.humanize import count
from engine.psa.budget import API_REQUESTS_PER_HOUR, POLL_SHARE_PERCENT, REST_IDLE_POLL_REQUESTS
from engine.settings.model import MailboxApi

PRIVATE_NOTE = (
    "Private Outlook appointments are also transferred to the PSA calendar, but only with"
    ' the name "Appointment"; only date and time are transferred, not the details. (R05)'
)

NOTIFICATION_NOTE = (
    "Microsoft must reach this HTTPS URL from the internet (forward it to the receiver"
    " below); without it msext polls the mailboxes."
)

GENERAL: tuple[Item, ...] = (
    Field("exchange.general.enabled", "MS Exchange extension enabled", "switch"),
    Field(
        "exchange.general.server_type",
        "Exchange server",
        "select",
        (("On-premises", "on_premises"), ("Hosted", "hosted"), ("Office 365", "office365")),
    ),
    Field(
        "exchange.general.mailbox_api",
        "Mailbox API",
        "select",
        (("EWS", "ews"), ("Microsoft Graph (Office 365 only)", "graph")),
        note="Exchange Online is retiring EWS; Graph signs in as the app registration below"
        " (tenant id, client id, the secret reference as its client secret). "
        + GRAPH_PERMISSIONS_NOTE,
    ),
    Field(
        "exchange.general.ews_url",
        "EWS URL",
        placeholder="https://mail.example.com/EWS/Exchange.asmx",
    ),
    Field(
        "exchange.general.autodiscover_email",
        "Autodiscover e-mail address (instead of the EWS URL)",
        placeholder="someone@example.com",
    ),
    "Synchronization account",
    Field(
        "exchange.general.sync_account",
        "User name",
        note="A dedicated account set up with the Exchange administrator; it acts for every"
        " user. A domain administrator account is discouraged.",
        placeholder="svc-msext@example.com or DOMAIN\\svc-msext",
    ),
    Field(
        "exchange.general.secret",
        "Secret reference (never the password itself)",
        placeholder="env:MSEXT_SECRET_EWS or file:ews-service-account",
    ),
    Field(
        "exchange.general.impersonation",
        "Use these credentials for every user (impersonation)",
        "check",
    ),
    Field(
        "exchange.general.auth_type",
        "Authentication",
        "select",
        (("NTLM", "ntlm"), ("Basic", "basic"), ("OAuth2 (app registration)", "oauth2")),
    ),
    Field("exchange.general.oauth_tenant_id", "Tenant id (OAuth2 and Graph)"),
    Field("exchange.general.oauth_client_id", "Client id of the app registration"),
    Field(
        "exchange.general.oauth_token_url",
        "Token URL (empty: Microsoft's for the tenant)",
        placeholder="https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token",
    ),
    Field("exchange.general.graph_url", "Microsoft Graph URL (Graph only)"),
    Field(
        "exchange.general.notification_url",
        "Notification URL (Graph only)",
        note=NOTIFICATION_NOTE,
        placeholder="https://msext.example.com/graph",
    ),
    Field(
        "exchange.general.notification_listen",
        "Notification receiver listens on",
        placeholder="0.0.0.0:8443",
    ),
    Field(
        "exchange.general.notification_certificate",
        "Receiver's TLS certificate (PEM)",
        placeholder="/etc/msext/receiver.pem",
    ),
    Field(
        "exchange.general.notification_key",
        "Receiver's TLS key (PEM)",
        placeholder="/etc/msext/receiver.key",
    ),
    Field(
        "exchange.general.exchange_version",
        "Exchange version",
        "select",
        (
            ("Detect automatically", "auto"),
            ("Exchange 2013", "2013"),
            ("Exchange 2013 SP1", "2013_sp1"),
            ("Exchange 2016", "2016"),
            ("Exchange 2019", "2019"),
        ),
    ),
    Field("exchange.general.verify_tls", "Verify the server's TLS certificate", "check"),
    Field("exchange.general.timeout_seconds", "Request timeout (seconds)", "int"),
    Field(
        "exchange.general.error_recipients",
        "Send sync error notifications to",
        "list",
        placeholder="it@example.com, admin@example.com",
    ),
)

DEMO_NOTE = (
    "Demo profile: the engine talks to the embedded emulators (EWS, or Graph with Office"
    " 365), so the EWS and Graph URLs may stay as they are."
)

ONLY_FOR_EWS_OR_GRAPH = {
    **dict.fromkeys(
        (
            "exchange.general.ews_url",
            "exchange.general.autodiscover_email",
            "exchange.general.impersonation",
            "exchange.general.auth_type",
            "exchange.general.exchange_version",
        ),
        False,
    ),
    **dict.fromkeys(
        (
            "exchange.general.graph_url",
            "exchange.general.notification_url",
            "exchange.general.notification_listen",
            "exchange.general.notification_certificate",
            "exchange.general.notification_key",
        ),
        True,
    ),
}
"""The General tab's fields that one mailbox API alone uses (True: Graph)."""


def uses_graph(draft: Draft) -> bool:
    """Whether the draft reaches the mailboxes through Microsoft Graph (else EWS)."""
    return draft.get("exchange.general.mailbox_api") == MailboxApi.GRAPH


def grey_out_other_api(node: DOMNode, draft: Draft) -> None:
    """Grey out the fields below ``node`` that the chosen mailbox API does not use (R19);
    their values stay, for a way back."""
    graph = uses_graph(draft)
    for row in node.query(FieldRow):
        applies = ONLY_FOR_EWS_OR_GRAPH.get(row.field.key)
        if applies is not None:
            row.disabled = graph != applies


SYNCHRONIZATION: tuple[Item, ...] = (
    Field(
        "exchange.sync.interval_minutes",
        "Synchronization interval (minutes)",
        "int",
        note="Set for all users; at least 10 minutes (R01). A sync can take longer when"
        " other items are still in the Exchange server's queue.",
    ),
    Field(
        "exchange.sync.psa_poll_seconds",
        "PSA change poll (seconds; 0: off)",
        "int",
        note="The users a PSA change names are synced at once, between the interval's runs."
        f" Through the PSA's REST API each look costs {REST_IDLE_POLL_REQUESTS} requests of"
        f" the {API_REQUESTS_PER_HOUR:,} an hour all integrations share; msext takes at most"
        f" {POLL_SHARE_PERCENT}%.",
    ),
    Field(
        "exchange.sync.mailbox_notifications",
        "Mailbox notifications",
        "switch",
        note="Exchange reports a user's mailbox changes as they happen and the user is synced"
        " at once (over Graph only where a notification URL is set, General tab); off, the"
        " interval's runs find them.",
    ),
    "Export PSA entries to Exchange",
    Field("exchange.sync.export_appointments", "Appointments", "check"),
    Field("exchange.sync.export_todos", "To-dos", "check"),
    Field("exchange.sync.export_service_calls", "Service calls", "check"),
    Field(
        "exchange.sync.share_contacts",
        "Share contacts",
        "check",
        note="...for which the resource is account manager or opportunity owner. Clear it"
        " when a user syncs contacts with the Outlook extension instead (R12).",
    ),
    Field(
        "exchange.sync.contact_scope",
        "Contacts shared",
        "select",
        (("Account manager or opportunity owner", "owned"), ("All contacts", "all")),
    ),
    Field(
        "exchange.sync.todo_folder",
        "To-dos go to",
        "select",
        (
            ("The calendar, as appointments", "calendar"),
            ("The tasks folder (EWS only)", "tasks"),
        ),
    ),
    "Import Exchange entries to the PSA",
    Field(
        "exchange.sync.import_appointments",
        "Appointments",
        "select",
        (
            ("With full details", "full"),
            ("Without details (date and time)", "without_details"),
            ("Do not import", "off"),
        ),
        note=PRIVATE_NOTE,
    ),
    "Date range",
    Field("exchange.sync.days_back", "Days back", "int"),
    Field("exchange.sync.days_ahead", "Days ahead", "int"),
    "Advanced",
    Field(
        "exchange.sync.max_delete_percent",
        "Hold a run that would delete more than this share of a mailbox's items (%)",
        "int",
    ),
    Field("exchange.sync.workers", "Mailboxes synced at once (1-10)", "int"),
)


class ExchangeScreen(SettingsPage):
    CRUMB = "MS Exchange"
    PARENT = MicrosoftExtensionsScreen
    SUMMARY = "Server-side sync of PSA calendars and contacts with Exchange mailboxes"
    CSS_PATH = "../settings.tcss"
    HELP = (
        "The MS Exchange extension's configuration, as on the PSA's page: **General** (where"
        " Exchange is, the mailbox API: EWS with the synchronization account that"
        " impersonates every user, or Microsoft Graph for Office 365 with an app"
        " registration's permissions, the other API's fields greyed out; who gets error"
        " notifications, and *Test connection*),"
        " **Synchronization** (the interval and"
        " what goes which way), **Resources** (who syncs, with which mailbox). Changes are"
        " checked as you leave a field and again on Save; nothing is saved while a setting"
        " breaks a rule."
    )
    TABS: ClassVar = {
        "tab-general": ("General", "exchange.general"),
        "tab-sync": ("Synchronization", "exchange.sync"),
        "tab-resources": ("Resources", "exchange.resources"),
    }

    @classmethod
    def menu_state(cls, console: Navigator) -> str:
        profile = console.profile
        settings = profile.settings
        if not settings.exchange.general.enabled:
            return "not enabled"
        resources = profile.resources()
        enabled = [r for r in resources if r.active and settings.resource(r.id).enabled]
        return f"enabled, {len(enabled)} of {count(len(resources), 'resource')}"

    def compose_page(self) -> ComposeResult:
        yield from self.compose_status()
        with TabbedContent(id="exchange-tabs"):
            with TabPane("General", id="tab-general"), VerticalScroll(can_focus=False):
                if self.msext.profile.settings.sandbox.enabled:
                    yield Static(DEMO_NOTE, classes="note", markup=False)
                yield Static("", id="tls-warning", markup=False)
                yield from self.compose_fields(GENERAL)
                yield from self.compose_connection_test()
            with TabPane("Synchronization", id="tab-sync"), VerticalScroll(can_focus=False):
                yield from self.compose_fields(SYNCHRONIZATION)
            with TabPane("Resources", id="tab-resources"):
                yield ResourcesPane(self.draft, self.msext.profile)
        yield from self.compose_actions()

    def compose_connection_test(self) -> ComposeResult:
        yield Static("Test connection", classes="section", markup=False)
        profile = self.msext.profile
        mailboxes = [
            (
                # Text, not str: a Select reads a string prompt as markup.
                Text(f"{resource.name} <{profile.mailbox_address(resource)}>"),
                profile.mailbox_address(resource),
            )
            for resource in profile.resources()
            if resource.active
        ]
        with Horizontal(id="connection-test"):
            yield Select(mailboxes, allow_blank=False, compact=True, id="test-mailbox")
            yield Button("Test connection", compact=True, id="test-connection")
        yield Static(
            "Checks the endpoint, the account's (or app's) credentials and the access to the"
            " chosen mailbox, with the settings as they are on this page.",
            id="test-result",
            markup=False,
        )

    def on_mount(self) -> None:
        super().on_mount()
        self.after_edit(None)

    def after_edit(self, field: Field | None) -> None:
        grey_out_other_api(self, self.draft)
        off = self.draft.get("exchange.general.verify_tls") is False
        self.query_one("#tls-warning", Static).update(
            "Warning: TLS verification is off; the server's identity is not checked." if off else ""
        )

    @on(ResourcesPane.Edited)
    def _resources_edited(self) -> None:
        self.refresh_markers()

    def after_save(self) -> None:
        self.query_one(ResourcesPane).fill()

    @on(Button.Pressed, "#test-connection")
    def _test(self) -> None:
        settings = self.settings_to_test()
        if settings is None:
            return
        mailbox = str(self.query_one("#test-mailbox", Select).value)
        self.query_one("#test-result", Static).update(f"Testing {mailbox} ...")
        self.run_test(settings, mailbox)

    @work(thread=True, exclusive=True, group="connection-test", exit_on_error=False)
    def run_test(self, settings: object, mailbox: str) -> None:
        lines: list[str] = []
        for step in check_connection(settings, self.msext.profile.paths, mailbox):  # type: ignore[arg-type]
            lines.append(step_line(step))
            self.app.call_from_thread(
                self.query_one("#test-result", Static).update, "\n".join(lines)
            )
