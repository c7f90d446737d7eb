"""First-time setup: from an empty profile to a tested, dry-run, saved configuration.

Back and Next keep what was entered; nothing is written until "Enable and save", and
leaving on the way removes even the embedded PSA the first step created.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Button, ContentSwitcher, Footer, Static

from console.forms import Draft
from console.navigation import Navigator, navigator
from console.screens.dialogs import ConfirmScreen
from console.setup.state import SetupState
from console.setup.steps import (
    DryRunStep,
    ExchangeStep,
    ImpersonationStep,
    IntervalStep,
    PsaStep,
    ResourcesStep,
    SaveStep,
    SetupStep,
    SyncStep,
)
from console.widgets.breadcrumb import Breadcrumb
from engine.errors import SettingsError
from engine.exchange.setup import PSA_SECRET_NAME, SECRET_NAME
from engine.humanize import count
from engine.settings.secrets import write_secret_file

STEPS: tuple[type[SetupStep], ...] = (
    PsaStep,
    ExchangeStep,
    ImpersonationStep,
    ResourcesStep,
    SyncStep,
    IntervalStep,
    DryRunStep,
    SaveStep,
)


class SetupScreen(Screen[bool]):
    """The wizard; dismissed with True once saved (when opened from the console)."""

    CSS_PATH = "setup.tcss"
    HELP = (
        "Sets up the MS Exchange extension step by step: the PSA connection, the Exchange"
        " connection (EWS, or Microsoft Graph for Office 365) with a test, the impersonation"
        " right the synchronization account needs, or with Graph the app's application"
        " access policy (with the PowerShell and a live check), which PSA resources have a"
        " mailbox, what syncs, the interval, a dry run, and only then enable and save."
        " **ctrl+n** / **ctrl+b** go forward and back and keep what you entered; **Esc**"
        " leaves without saving anything."
    )
    BINDINGS: ClassVar = [
        Binding("ctrl+n", "next", "Next", id="setup_next"),
        Binding("ctrl+b", "back", "Back", id="setup_back"),
        Binding("space", "toggle", "Select", show=False, id="setup_toggle"),
        Binding("escape", "leave", "Leave", id="setup_leave"),
        Binding("question_mark", "help", "Help", key_display="?", id="setup_help"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.index = 0

    @property
    def msext(self) -> Navigator:
        return navigator(self.app)

    def trail(self) -> tuple[str, ...]:
        return ("Setup", "MS Exchange extension")

    def compose(self) -> ComposeResult:
        profile = self.msext.profile
        self.state = SetupState(profile, Draft(profile.store))
        yield Breadcrumb(self.trail())
        yield Static(id="setup-title", markup=False)
        with ContentSwitcher(initial="step-0", id="setup-steps"):
            for number, step in enumerate(STEPS):
                yield step(self.state, id=f"step-{number}")
        yield Static(id="setup-problem", markup=False)
        with Horizontal(id="setup-actions"):
            yield Button("Back", compact=True, id="setup-back")
            yield Button("Next", variant="primary", compact=True, id="setup-next")
        yield Footer()

    def on_mount(self) -> None:
        self._show(0)

    @property
    def step(self) -> SetupStep:
        return self.query_one(f"#step-{self.index}", SetupStep)

    def _show(self, index: int) -> None:
        self.index = index
        self.query_one("#setup-steps", ContentSwitcher).current = f"step-{index}"
        self.query_one("#setup-title", Static).update(
            f"Step {index + 1} of {len(STEPS)}: {self.step.title()}"
        )
        self.query_one("#setup-problem", Static).update("")
        self.query_one("#setup-back", Button).disabled = index == 0
        self.query_one("#setup-next", Button).display = index < len(STEPS) - 1
        self.step.entered()
        inside = [widget for widget in self.focus_chain if self.step in widget.ancestors]
        if inside:
            inside[0].focus()

    # -- moving ----------------------------------------------------------------------------

    @on(Button.Pressed, "#setup-next")
    def action_next(self) -> None:
        if self.index == len(STEPS) - 1:
            return
        problem = self.step.problem()
        self.query_one("#setup-problem", Static).update(f"! {problem}" if problem else "")
        if problem:
            return
        self.step.left_forward()
        self._show(self.index + 1)

    @on(Button.Pressed, "#setup-back")
    def action_back(self) -> None:
        if self.index > 0:
            self._show(self.index - 1)

    def action_toggle(self) -> None:
        if isinstance(self.step, ResourcesStep):
            self.step.toggle()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle":
            return isinstance(self.step, ResourcesStep)
        return True

    def action_help(self) -> None:
        from console.screens.help import HelpScreen

        self.app.push_screen(HelpScreen(self))

    # -- leaving ---------------------------------------------------------------------------

    def action_leave(self) -> None:
        self.request_leave(lambda: self._finish(False))

    def request_leave(self, proceed: Callable[[], object]) -> None:
        """Leaving (Esc, or `q` to quit) asks first; yes discards everything entered."""

        def answered(leave: bool | None) -> None:
            if leave:
                self._discard()
                proceed()

        self.app.push_screen(
            ConfirmScreen("Leave the setup? Nothing you entered is saved.", yes="Leave"),
            answered,
        )

    def _discard(self) -> None:
        """Remove the embedded PSA the first step created: leaving saves nothing."""
        if self.state.psa_created:
            self.msext.profile.close()
            psa_db = self.msext.profile.paths.psa_db
            for path in (psa_db, *(psa_db.with_name(psa_db.name + s) for s in ("-wal", "-shm"))):
                path.unlink(missing_ok=True)

    def _finish(self, saved: bool) -> None:
        """Back to where the wizard was opened from; started on an empty profile, the admin
        console opens after a save and the program ends otherwise."""
        if self.app.current_mode != "setup":
            self.dismiss(saved)
        elif saved:
            self.app.switch_mode("admin")
        else:
            self.app.exit()

    @on(Button.Pressed, "#setup-save")
    def _save(self) -> None:
        draft, state = self.state.draft, self.state
        draft.set("exchange.general.secret", f"file:{SECRET_NAME}")
        draft.set("exchange.general.enabled", True)
        try:
            state.settings()
        except SettingsError as error:
            draft.set("exchange.general.enabled", None)
            self.query_one("#setup-problem", Static).update(f"! Not saved: {error}")
            return
        write_secret_file(state.profile.paths, SECRET_NAME, state.secret)
        if state.rest():
            write_secret_file(state.profile.paths, PSA_SECRET_NAME, state.psa_secret)
        draft.save()
        self.msext.profile.reload()
        self.notify(
            "Saved: the MS Exchange extension is enabled for"
            f" {count(len(state.selected), 'resource')}."
        )
        self._finish(True)
