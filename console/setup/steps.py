"""The wizard's steps. Each checks its own part before the wizard moves on (``problem``)."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, DataTable, Input, ProgressBar, Static

from console.forms import Draft, Field, FieldRow
from console.screens.exchange.page import (
    DEMO_NOTE,
    GENERAL,
    PRIVATE_NOTE,
    SYNCHRONIZATION,
    grey_out_other_api,
)
from console.setup.state import SetupState
from console.widgets.table import PlainTable
from engine.errors import SettingsError, UserError
from engine.exchange.connect import exchange_connector
from engine.exchange.connection_check import Step, check_connection
from engine.exchange.mailbox.base import MailboxError
from engine.exchange.runner import Progress, RunFinished
from engine.exchange.setup import (
    GRAPH_PERMISSIONS_NOTE,
    IMPERSONATION_SCOPE_NOTE,
    PSA_SECRET_NAME,
    access_policy_commands,
    impersonation_commands,
    match_mailboxes,
    seed_embedded_psa,
)
from engine.exchange.sync import sync
from engine.humanize import count
from engine.redaction import redactor
from engine.settings.model import ServerType


def endpoint(draft: Draft) -> str | None:
    return draft.get("exchange.general.ews_url") or draft.get("exchange.general.autodiscover_email")


log = logging.getLogger(__name__)
FIELDS = {item.key: item for item in (*GENERAL, *SYNCHRONIZATION) if isinstance(item, Field)}


class SetupStep(VerticalScroll, can_focus=False):
    """One step: a title, its widgets, and what must hold before Next."""

    TITLE: ClassVar[str] = ""
    KEYS: ClassVar[tuple[str, ...]] = ()
    """Settings keys edited on this step, checked by the settings model on Next."""

    DEFAULT_CSS = """
    SetupStep { padding: 0 1; }
    SetupStep .explain { color: $text-muted; margin: 0 0 1 0; }
    SetupStep .result { margin: 1 0 0 0; }
    SetupStep .commands { background: $boost; padding: 0 1; margin: 0 0 1 0; }
    SetupStep Horizontal { height: auto; }
    SetupStep Button { margin: 0 1 0 0; }
    """

    def __init__(self, state: SetupState, id: str) -> None:
        super().__init__(id=id)
        self.state = state

    def field_rows(self, *keys: str, **overrides: Field) -> ComposeResult:
        for key in keys:
            field = overrides.get(key.rsplit(".", 1)[-1]) or FIELDS[key]
            yield FieldRow(field, self.state.draft.get(key))

    @on(FieldRow.Edited)
    def _edited(self, event: FieldRow.Edited) -> None:
        self.state.draft.set(event.field.key, event.value)
        grey_out_other_api(self, self.state.draft)

    @on(FieldRow.Left)
    def _left(self, event: FieldRow.Left) -> None:
        key = event.field.key
        problems = self.state.draft.problems()
        row = self.query_one(f"#row-{event.field.widget_id}", FieldRow)
        row.show_problem(next((m for k, m in problems.items() if k.startswith(key)), None))

    def title(self) -> str:
        return self.TITLE

    def entered(self) -> None:
        """The step is shown (again): refresh what depends on earlier steps."""

    def problem(self) -> str | None:
        """Why the wizard may not move on yet, shown beside the fields or as a notice."""
        problems = self.state.draft.problems()
        mine = {k: m for k, m in problems.items() if any(k.startswith(key) for key in self.KEYS)}
        for row in self.query(FieldRow):
            key = row.field.key
            row.show_problem(next((m for k, m in mine.items() if k.startswith(key)), None))
        return next(iter(mine.values()), None)

    def left_forward(self) -> None:
        """Next was accepted: do what the step promised (e.g. create the PSA)."""

    def explain(self, error: UserError) -> str:
        """An error in words the step shows: settings are named by their field's label."""
        if not isinstance(error, SettingsError):
            return str(error)
        labels = {row.field.key: row.field.label for row in self.query(FieldRow)}
        labels |= {key: field.label for key, field in FIELDS.items() if key not in labels}
        return "; ".join(
            f"{labels.get(key, key)}: {message}" for key, message in error.problems.items()
        )

    def refused(self, widget_id: str, prefix: str, error: UserError) -> None:
        """A test or plan the PSA, the settings or the server refused, told on the step."""
        self.outcome(widget_id, f"{prefix}{self.explain(error)}")

    def result(self, widget_id: str, text: str) -> None:
        self.query_one(widget_id, Static).update(text)

    def outcome(self, widget_id: str, text: str) -> None:
        """What a test or check asked for says, scrolled into view: on a short terminal it
        lies below the button or field that asked."""
        self.result(widget_id, text)
        self.call_after_refresh(self.query_one(widget_id).scroll_visible, animate=False)

    def failed(self, widget_id: str, error: Exception) -> None:
        """From a worker: an unexpected failure, told on the step (details in the log)."""
        log.error("setup step %s failed", self.TITLE, exc_info=error)
        where = self.state.profile.paths.log_file
        self.app.call_from_thread(
            self.outcome, widget_id, f"! internal error: {redactor.redact(str(error))} ({where})"
        )


class PsaStep(SetupStep):
    TITLE = "PSA connection"
    KEYS = ("psa.",)

    def compose(self) -> ComposeResult:
        yield Static(
            "Where msext reads PSA resources, appointments, to-dos, service calls and"
            " contacts: the embedded PSA in this profile, or the PSA's REST API (the API"
            " user's secret is stored in the profile's secrets directory on the last step).",
            classes="explain",
            markup=False,
        )
        yield from self.field_rows(
            "psa.kind",
            kind=Field(
                "psa.kind",
                "PSA connection",
                "select",
                (("Embedded PSA in this profile", "embedded"), ("PSA REST API", "rest")),
            ),
        )
        with Vertical(id="rest-fields"):
            yield from self.field_rows(
                "psa.rest_url",
                "psa.rest_username",
                "psa.rest_integration_code",
                rest_url=Field(
                    "psa.rest_url",
                    "Zone discovery URL",
                    placeholder="https://webservices.example.com/ATServicesRest/",
                ),
                rest_username=Field("psa.rest_username", "API user"),
                rest_integration_code=Field("psa.rest_integration_code", "Integration code"),
            )
            with Horizontal():
                yield Static("API user's secret", classes="label", markup=False)
                yield Input(password=True, id="setup-psa-secret", placeholder="typed, never shown")
            with Horizontal():
                yield Button("Test PSA connection", compact=True, id="setup-psa-test")
        yield Static(id="psa-result", classes="result", markup=False)

    def entered(self) -> None:
        rest = self.state.rest()
        self.query_one("#rest-fields").display = rest
        if rest:
            self.result("#psa-result", "Test the connection, then Next.")
            return
        paths = self.state.profile.paths
        if paths.psa_db.exists():
            count = len(self.state.profile.resources())
            self.result("#psa-result", f"Embedded PSA found: {count} resources.")
        else:
            self.result(
                "#psa-result",
                "This profile has no PSA data yet: Next creates the embedded PSA with the"
                " demo data set (30 resources, companies, contacts, appointments, to-dos and"
                " service calls). Leaving the setup removes it again.",
            )

    @on(FieldRow.Edited)
    @on(Input.Changed, "#setup-psa-secret")
    def _psa_changed(self, event: Message) -> None:
        self.state.psa_secret = self.query_one("#setup-psa-secret", Input).value
        self.state.psa_ok = False
        self.state.matches = []
        if isinstance(event, FieldRow.Edited) and event.field.key == "psa.kind":
            self.state.draft.set(event.field.key, event.value)
            rest = event.value == "rest"
            self.state.draft.set("psa.rest_secret", f"file:{PSA_SECRET_NAME}" if rest else None)
            self.entered()

    @on(Button.Pressed, "#setup-psa-test")
    def _test(self) -> None:
        self.outcome("#psa-result", "Testing...")
        self._run_test()

    @work(thread=True, exclusive=True, group="setup-psa-test", exit_on_error=False)
    def _run_test(self) -> None:
        try:
            count = len(self.state.resources())
        except UserError as error:
            self.app.call_from_thread(self.refused, "#psa-result", "FAILED  ", error)
            return
        except Exception as error:
            self.failed("#psa-result", error)
            return
        self.app.call_from_thread(self._tested, count)

    def _tested(self, count: int) -> None:
        self.state.psa_ok = True
        self.outcome("#psa-result", f"ok  The PSA's REST API answers: {count} resources.")

    def problem(self) -> str | None:
        problem = super().problem()
        if problem or not self.state.rest():
            return problem
        if not self.state.psa_secret:
            return "enter the API user's secret"
        if not self.state.psa_ok:
            return "test the PSA connection first (Test PSA connection)"
        return None

    def left_forward(self) -> None:
        if not self.state.rest() and seed_embedded_psa(self.state.profile.paths, date.today()):
            self.state.psa_created = True
            self.app.notify("Embedded PSA created with the demo data set.")


class ExchangeStep(SetupStep):
    TITLE = "Exchange connection"
    KEYS = ("exchange.general.",)

    def compose(self) -> ComposeResult:
        yield Static(
            "Where Exchange is and how msext signs in: over EWS as the synchronization account,"
            " over Microsoft Graph (Office 365) as an app registration; the account's mailbox"
            " sends the error notifications. The password or client secret is kept in memory"
            " until the last step, then stored in the profile's secrets directory (mode 0600),"
            " never in the settings file.",
            classes="explain",
            markup=False,
        )
        if self.state.sandbox():
            yield Static(DEMO_NOTE, classes="explain", id="setup-demo-note", markup=False)
        yield from self.field_rows(
            "exchange.general.server_type",
            "exchange.general.mailbox_api",
            "exchange.general.ews_url",
            "exchange.general.autodiscover_email",
            "exchange.general.sync_account",
            "exchange.general.auth_type",
            "exchange.general.oauth_tenant_id",
            "exchange.general.oauth_client_id",
            "exchange.general.oauth_token_url",
            "exchange.general.graph_url",
            "exchange.general.verify_tls",
            mailbox_api=replace(
                FIELDS["exchange.general.mailbox_api"],
                note="Graph reaches Office 365 only; the next step shows the permissions its"
                " app registration needs.",
            ),
        )
        with Horizontal():
            yield Static("Password or client secret", classes="label", markup=False)
            yield Input(password=True, id="setup-secret", placeholder="typed, never shown")
        with Horizontal():
            yield Button("Test connection", compact=True, id="setup-test")
        yield Static(id="exchange-result", classes="result", markup=False)

    def on_mount(self) -> None:
        grey_out_other_api(self, self.state.draft)

    @on(FieldRow.Edited)
    @on(Input.Changed, "#setup-secret")
    def _connection_changed(self) -> None:
        self.state.secret = self.query_one("#setup-secret", Input).value
        self.state.connection_ok = self.state.impersonation_ok = False
        self.state.matches = []

    @on(Button.Pressed, "#setup-test")
    def _test(self) -> None:
        problem = self._inputs_problem()
        if problem:
            self.outcome("#exchange-result", f"! {problem}")
            return
        self.outcome("#exchange-result", "Testing...")
        self._run_test()

    def _inputs_problem(self) -> str | None:
        draft = self.state.draft
        if not (self.state.graph() or self.state.sandbox() or endpoint(draft)):
            return "enter the EWS URL or an autodiscover e-mail address"
        if not draft.get("exchange.general.sync_account"):
            return "enter the synchronization account"
        if not self.state.secret:
            return "enter the account's password or client secret"
        return super().problem()

    @work(thread=True, exclusive=True, group="setup-test", exit_on_error=False)
    def _run_test(self) -> None:
        state = self.state
        try:
            steps = list(
                check_connection(state.settings(), state.profile.paths, None, state.secret)
            )
        except Exception as error:
            self.failed("#exchange-result", error)
            return
        self.app.call_from_thread(self._tested, steps, all(step.ok for step in steps))

    def _tested(self, steps: list[Step], ok: bool) -> None:
        self.state.connection_ok = ok
        lines = [f"{'ok' if step.ok else 'FAILED'}  {step.name}: {step.detail}" for step in steps]
        self.outcome("#exchange-result", "\n".join(lines))

    def problem(self) -> str | None:
        problem = self._inputs_problem()
        if problem:
            return problem
        if not self.state.connection_ok:
            return "test the connection first (Test connection)"
        return None


class ImpersonationStep(SetupStep):
    """EWS: the account's impersonation right; Graph: the app's permissions and the
    application access policy (R14, R19)."""

    TITLE = "Impersonation rights"
    commands = ""
    """The shell commands the step shows, as one text for the clipboard."""
    BINDINGS: ClassVar = [
        Binding("ctrl+y", "copy_commands", "Copy commands", id="setup_copy_commands"),
    ]

    def compose(self) -> ComposeResult:
        yield Static(id="impersonation-explain", classes="explain", markup=False)
        yield Static(id="impersonation-commands", classes="commands", markup=False)
        with Horizontal():
            yield Button("Copy commands (ctrl+y)", compact=True, id="setup-copy")
        yield Static(id="impersonation-scope", classes="explain", markup=False)
        with Horizontal():
            yield Static("Check with the mailbox of", classes="label", markup=False)
            yield Input(id="setup-mailbox", placeholder="someone@example.com")
        with Horizontal():
            yield Button("Check access", compact=True, id="setup-check")
        yield Static(id="impersonation-result", classes="result", markup=False)

    def title(self) -> str:
        return "Application access" if self.state.graph() else self.TITLE

    def entered(self) -> None:
        draft = self.state.draft
        account = draft.get("exchange.general.sync_account") or ""
        if self.state.graph():
            explain = (
                "The app registration reads and writes every user's calendar and contacts"
                " with application permissions, limited to the synced mailboxes (R14). An"
                " Exchange Online administrator limits it once:"
            )
            commands = access_policy_commands(
                draft.get("exchange.general.oauth_client_id") or "", account
            )
            scope = GRAPH_PERMISSIONS_NOTE
        else:
            explain = (
                "The synchronization account reads and writes every user's calendar and"
                " contacts by impersonation (R14). An Exchange administrator grants it once,"
                " in the Exchange Management Shell:"
            )
            commands = impersonation_commands(
                account, ServerType(draft.get("exchange.general.server_type"))
            )
            scope = IMPERSONATION_SCOPE_NOTE
        self.result("#impersonation-explain", explain)
        self.commands = "\n".join(commands)
        self.result("#impersonation-commands", self.commands)
        self.result("#impersonation-scope", scope)
        mailbox = self.query_one("#setup-mailbox", Input)
        if not mailbox.value:
            active = [r for r in self.state.resources() if r.active]
            mailbox.value = active[0].email.lower() if active else ""

    @on(Button.Pressed, "#setup-copy")
    def action_copy_commands(self) -> None:
        """The commands as one clean paste: drawn on screen they wrap at its width, and a
        terminal copies the wrapped lines (OSC 52 reaches the clipboard over SSH too)."""
        self.app.copy_to_clipboard(self.commands)
        lines = self.commands.count("\n") + 1
        self.notify(f"Copied {count(lines, 'command')} to the clipboard; paste them in the shell.")

    @on(Input.Changed, "#setup-mailbox")
    def _mailbox_changed(self) -> None:
        self.state.impersonation_ok = False

    @on(Button.Pressed, "#setup-check")
    @on(Input.Submitted, "#setup-mailbox")
    def _check(self) -> None:
        self.outcome("#impersonation-result", "Checking...")
        self._run_check(self.query_one("#setup-mailbox", Input).value.strip())

    @work(thread=True, exclusive=True, group="setup-check", exit_on_error=False)
    def _run_check(self, mailbox: str) -> None:
        state = self.state
        try:
            steps = list(
                check_connection(state.settings(), state.profile.paths, mailbox, state.secret)
            )
        except Exception as error:
            self.failed("#impersonation-result", error)
            return
        self.app.call_from_thread(self._checked, mailbox, steps)

    def _checked(self, mailbox: str, steps: list[Step]) -> None:
        last = steps[-1]
        ok = last.ok and last.name.startswith(("Impersonation", "Application permissions"))
        self.state.impersonation_ok = ok
        if ok:
            who = "app registration" if self.state.graph() else "account"
            self.outcome("#impersonation-result", f"ok  The {who} may act for {mailbox}.")
        else:
            self.outcome(
                "#impersonation-result",
                f"FAILED  {last.name}: {last.detail}\nRun the command above (or ask the"
                " Exchange administrator to), then check again.",
            )

    def problem(self) -> str | None:
        if not self.state.impersonation_ok:
            return "check the access with one mailbox first; it must pass"
        return None


class ResourcesStep(SetupStep):
    TITLE = "Resources and mailboxes"

    def compose(self) -> ComposeResult:
        yield Static(
            "Each active PSA resource is matched to the Exchange mailbox of its e-mail"
            " address. Found ones are selected; space toggles a row. Unmatched resources stay"
            " disabled; give them a mailbox later on the MS Exchange page's Resources tab.",
            classes="explain",
            markup=False,
        )
        yield ProgressBar(id="match-progress", show_eta=False)
        table = PlainTable(id="match-table", cursor_type="row")
        table.add_columns("Sync", "Resource", "Mailbox", "In Exchange")
        yield table
        yield Static(id="match-summary", classes="result", markup=False)

    def entered(self) -> None:
        if not self.state.matches:
            self.query_one("#match-table", DataTable).clear()
            self.result("#match-summary", "Looking up mailboxes...")
            self._match()

    @work(thread=True, exclusive=True, group="setup-match", exit_on_error=False)
    def _match(self) -> None:
        state = self.state
        bar = self.query_one("#match-progress", ProgressBar)
        try:
            with exchange_connector(state.settings(), state.profile.paths, state.secret) as conn:
                matches = match_mailboxes(
                    conn,
                    state.resources(),
                    lambda done, total: self.app.call_from_thread(
                        bar.update, total=total, progress=done
                    ),
                )
        except (UserError, MailboxError) as error:
            self.app.call_from_thread(self.result, "#match-summary", f"! {error}")
            return
        except Exception as error:
            self.failed("#match-summary", error)
            return
        self.app.call_from_thread(self._matched, matches)

    def _matched(self, matches: list) -> None:
        self.state.matches = matches
        self.state.selected = {match.resource.id for match in matches if match.found}
        self._fill()

    def _fill(self) -> None:
        table = self.query_one("#match-table", DataTable)
        cursor = table.cursor_row
        table.clear()
        for match in self.state.matches:
            table.add_row(
                "[x]" if match.resource.id in self.state.selected else "[ ]",
                match.resource.name,
                match.address,
                "found" if match.found else "not found",
                key=str(match.resource.id),
            )
        table.move_cursor(row=cursor)
        missing = [m.resource.name for m in self.state.matches if not m.found]
        summary = f"{len(self.state.selected)} of {len(self.state.matches)} selected."
        if missing:
            summary += f" Not found in Exchange: {', '.join(missing)}."
        self.result("#match-summary", summary)

    def toggle(self) -> None:
        table = self.query_one("#match-table", DataTable)
        if not table.row_count:
            return
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        resource_id = int(row_key.value or 0)
        self.state.selected ^= {resource_id}
        self.state.plan = None
        self._fill()

    def problem(self) -> str | None:
        if not self.state.matches:
            return "wait until the mailboxes are looked up"
        if not self.state.selected:
            return "select at least one resource to sync"
        return None


class SyncStep(SetupStep):
    TITLE = "What syncs"
    KEYS = ("exchange.sync.",)

    def compose(self) -> ComposeResult:
        yield Static(
            "What syncs (later on the MS Exchange page's Synchronization tab). Contacts go"
            " only from the PSA to Exchange (R07); to-dos and service calls only from the PSA"
            " (R09); mailbox appointments come back to the PSA, recurring series as single"
            " appointments without a series link (R10).",
            classes="explain",
            markup=False,
        )
        yield from self.field_rows(
            "exchange.sync.export_appointments",
            "exchange.sync.export_todos",
            "exchange.sync.export_service_calls",
            "exchange.sync.share_contacts",
            "exchange.sync.contact_scope",
            "exchange.sync.todo_folder",
            "exchange.sync.import_appointments",
        )
        yield Static(PRIVATE_NOTE, classes="explain", markup=False)

    @on(FieldRow.Edited)
    def _choice_changed(self) -> None:
        self.state.plan = None


class IntervalStep(SetupStep):
    TITLE = "Interval"
    KEYS = ("exchange.sync.interval_minutes",)

    def compose(self) -> ComposeResult:
        yield Static(
            "How often the engine syncs every enabled user. The administrator sets it for"
            " all users; it is never below 10 minutes (R01).",
            classes="explain",
            markup=False,
        )
        yield from self.field_rows("exchange.sync.interval_minutes")


class DryRunStep(SetupStep):
    TITLE = "Dry run"

    def compose(self) -> ComposeResult:
        yield Static(
            "What the first sync would do for each selected user. Nothing is written to"
            " Exchange or the PSA.",
            classes="explain",
            markup=False,
        )
        yield ProgressBar(id="dry-progress", show_eta=False)
        table = PlainTable(id="dry-table", cursor_type="row")
        table.add_columns("User", "Create", "Update", "Delete", "Outcome")
        yield table
        yield Static(id="dry-summary", classes="result", markup=False)

    def entered(self) -> None:
        if self.state.plan is None:
            self.query_one("#dry-table", DataTable).clear()
            self.result("#dry-summary", "Planning...")
            self._plan()

    @work(thread=True, exclusive=True, group="setup-dry-run", exit_on_error=False)
    def _plan(self) -> None:
        state = self.state
        profile = state.trial_profile()
        users = [m.resource for m in state.matches if m.resource.id in state.selected]
        bar = self.query_one("#dry-progress", ProgressBar)
        try:
            for event in sync(profile, users, dry_run=True, trigger="setup", secret=state.secret):
                if isinstance(event, Progress) and event.phase != "apply":
                    if event.total and event.phase not in ("pull",):
                        self.app.call_from_thread(
                            bar.update, total=event.total, progress=event.done
                        )
                elif isinstance(event, RunFinished):
                    self.app.call_from_thread(self._planned, event.result)
        except UserError as error:
            self.app.call_from_thread(self.refused, "#dry-summary", "! ", error)
        except Exception as error:
            self.failed("#dry-summary", error)
        finally:
            profile.close()

    def _planned(self, result) -> None:
        self.state.plan = result
        table = self.query_one("#dry-table", DataTable)
        table.clear()
        for user in result.users:
            totals = user.totals
            outcome = "would sync" if user.outcome == "planned" else user.outcome
            table.add_row(
                user.name,
                str(totals["created"]),
                str(totals["updated"]),
                str(totals["deleted"]),
                f"{outcome}: {user.message}" if user.message else outcome,
            )
        totals = result.totals
        self.result(
            "#dry-summary",
            f"In all: create {totals['created']}, update {totals['updated']}, delete"
            f" {totals['deleted']};"
            f" {count(sum(u.outcome == 'error' for u in result.users), 'user')} with an error.",
        )

    def problem(self) -> str | None:
        return None if self.state.plan is not None else "wait for the dry run to finish"


class SaveStep(SetupStep):
    TITLE = "Enable and save"

    def compose(self) -> ComposeResult:
        yield Static(id="save-summary", markup=False)
        with Horizontal():
            yield Button("Enable and save", variant="primary", compact=True, id="setup-save")

    def entered(self) -> None:
        draft, state = self.state.draft, self.state
        paths = state.profile.paths
        self.result(
            "#save-summary",
            "Ready. Saving will:\n"
            f"  - enable the MS Exchange extension for {count(len(state.selected), 'resource')},"
            f" every {draft.get('exchange.sync.interval_minutes')} minutes;\n"
            f"  - connect as {draft.get('exchange.general.sync_account')} to"
            f" {endpoint(draft)};\n"
            f"  - store the secret in {paths.secrets_dir}/ews-service-account (mode 0600);\n"
            f"  - write {paths.config_file} (mode 0600).\n\n"
            "Then run `msext daemon` (or its service) to sync on schedule, or use Sync"
            " activity to sync now.",
        )
