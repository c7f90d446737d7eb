"""What every settings page shares: the draft, Save and Cancel, markers, and leaving safely."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import ClassVar, Protocol

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Button, Static, TabbedContent

from console.forms import Draft, Field, FieldRow
from console.paths_shown import folded_path
from console.screens.base import PageScreen
from console.screens.dialogs import ConfirmScreen, LeaveScreen
from engine.errors import SettingsError, UserError
from engine.settings.model import Settings
from engine.settings.store import flat_keys

Item = Field | str
"""A field, or a heading line between fields."""
UNTESTED = "Correct the settings marked above first; nothing was tested."


class CheckedStep(Protocol):
    """One step of a *Test connection* (the mailbox's or a directory's)."""

    name: str
    ok: bool
    detail: str


def step_line(step: CheckedStep) -> str:
    return f"[{'ok' if step.ok else 'failed'}] {step.name}: {step.detail}"


class SettingsPage(PageScreen):
    """A page that edits part of the settings file through a :class:`Draft`."""

    BINDINGS: ClassVar = [
        Binding("ctrl+s", "save", "Save", id="settings_save"),
    ]
    TABS: ClassVar[dict[str, tuple[str, str]]] = {}
    """Pane id -> (title, settings prefix it edits), for the per-tab change markers."""

    def __init__(self) -> None:
        super().__init__()
        self.draft = Draft(self.msext.profile.store)

    # -- layout ----------------------------------------------------------------------------

    def compose_status(self) -> ComposeResult:
        yield Static("", id="page-status", markup=False)
        overridden = self.draft.store.env_overrides()
        if overridden:
            keys = ", ".join(sorted(flat_keys(overridden)))
            yield Static(
                f"Overridden by the environment (not saved here): {keys}",
                id="env-overrides",
                markup=False,
            )

    def compose_fields(self, items: Iterable[Item]) -> ComposeResult:
        for item in items:
            if isinstance(item, str):
                yield Static(item, classes="section", markup=False)
            else:
                yield FieldRow(item, self.draft.get(item.key))

    def compose_actions(self) -> ComposeResult:
        with Horizontal(id="actions"):
            yield Button("Save", variant="primary", compact=True, id="save")
            yield Button("Cancel", compact=True, id="cancel")

    def on_mount(self) -> None:
        self.refresh_markers()
        tabs = self.query("Tabs")
        if tabs:
            # Left and right switch tabs at once; tab moves on into the fields.
            tabs.first().focus()

    # -- editing ---------------------------------------------------------------------------

    @on(FieldRow.Edited)
    def _edited(self, event: FieldRow.Edited) -> None:
        self.draft.set(event.field.key, event.value)
        self.refresh_markers()
        self.after_edit(event.field)

    def after_edit(self, field: Field) -> None:
        """A hook for pages whose layout follows a value (e.g. OAuth2 fields)."""

    @on(FieldRow.Left)
    def _left(self, event: FieldRow.Left) -> None:
        problems = self.draft.problems()
        key = event.field.key
        found = next((m for k, m in problems.items() if k == key or k.startswith(f"{key}.")), None)
        self._row(key).show_problem(found)

    def _row(self, key: str) -> FieldRow:
        return self.query_one(f"#row-f-{key.replace('.', '-')}", FieldRow)

    def refresh_markers(self) -> None:
        """Unsaved changes, in words: a status line and a star on each changed tab."""
        dirty = self.draft.dirty
        self.query_one("#page-status", Static).update(
            "Unsaved changes: Save (ctrl+s) or Cancel." if dirty else "All changes saved."
        )
        self.query_one("#page-status").set_class(dirty, "-dirty")
        tabs = self.query(TabbedContent)
        for pane_id, (title, prefix) in self.TABS.items():
            if tabs:
                mark = " *" if self.draft.changed(prefix) else ""
                tabs.first().get_tab(pane_id).label = f"{title}{mark}"

    # -- saving and leaving ----------------------------------------------------------------

    def action_save(self) -> bool:
        """Validate everything; save only when no rule is broken."""
        if not self.draft.dirty:
            self.notify("Nothing to save: no setting changed.")
            return True
        for row in self.query(FieldRow):
            row.show_problem(None)
        try:
            self.draft.save()
        except SettingsError as error:
            self.show_problems(error.problems)
            count = len(error.problems)
            self.notify(
                f"Not saved: {count} setting{'s' if count > 1 else ''} to correct.",
                severity="error",
            )
            return False
        except UserError as error:
            self.notify(f"Not saved: {error}", severity="error")
            return False
        self.msext.profile.reload()
        self.refresh_markers()
        self.after_save()
        self.notify(f"Saved to\n{folded_path(self.draft.store.path)}")
        return True

    def after_save(self) -> None:
        """A hook for pages that show derived state."""

    def settings_to_test(self) -> Settings | None:
        """The page's settings, saved or not, for its *Test connection*; ``None`` when one
        breaks a rule: its message is shown beside it, and nothing is tested."""
        try:
            return self.draft.settings()
        except SettingsError as error:
            self.show_problems(error.problems)
            self.query_one("#test-result", Static).update(UNTESTED)
            return None

    def show_problems(self, problems: dict[str, str]) -> None:
        rows = {row.field.key: row for row in self.query(FieldRow)}
        first_tab = None
        unplaced = []
        for key, message in problems.items():
            row = next((r for k, r in rows.items() if key == k or key.startswith(f"{k}.")), None)
            if row is None:
                unplaced.append(f"{key}: {message}")
            else:
                row.show_problem(message)
            first_tab = first_tab or self.tab_of(key)
        if unplaced:
            self.show_unplaced(unplaced)
        tabs = self.query(TabbedContent)
        if first_tab and tabs:
            tabs.first().active = first_tab

    def show_unplaced(self, lines: list[str]) -> None:
        """Problems of keys without a field on the page (e.g. one resource's mailbox)."""
        self.query_one("#page-status", Static).update("Not saved: " + "; ".join(lines))

    def tab_of(self, key: str) -> str | None:
        return next(
            (pane for pane, (_, prefix) in self.TABS.items() if key.startswith(prefix)), None
        )

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        """Cancel: discard the draft and leave, asking first when there is work to lose."""
        if not self.draft.dirty:
            self.dismiss()
            return

        def decided(discard: bool | None) -> None:
            if discard:
                self.draft.discard()
                self.dismiss()

        self.app.push_screen(ConfirmScreen("Discard your unsaved changes?", "Discard"), decided)

    def request_leave(self, proceed: Callable[[], object]) -> None:
        if not self.draft.dirty:
            proceed()
            return

        def decided(choice: str | None) -> None:
            if choice == "save" and self.action_save():
                proceed()
            elif choice == "discard":
                self.draft.discard()
                proceed()

        self.app.push_screen(LeaveScreen(), decided)
