"""Resolving one directory user's conflict: map it to a contact, create a new contact, or
exclude the user from the sync. The contacts the engine found come first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from console.tables import MAX_ROWS, capped_note
from console.widgets.filter import FilterInput
from engine.adsync.matching import Resolution, ResolutionKind
from engine.adsync.state import UserRecord
from engine.psa.contacts import PsaContact

NEW = "new"
EXCLUDE = "exclude"


def contact_line(contact: PsaContact) -> str:
    """A contact as the admin tells it apart from its namesakes."""
    values = contact.values
    name = " ".join(p for p in (values.first_name, values.middle_name, values.last_name) if p)
    state = "" if contact.active else ", inactive"
    return f"#{contact.id} {name} <{values.email or 'no e-mail'}>{state}"


def ranked(user: UserRecord, contacts: Sequence[PsaContact]) -> list[PsaContact]:
    """The engine's candidates first, then contacts sharing the user's e-mail or name, then
    the rest by name."""
    email = user.email.casefold()
    name = user.name.casefold()

    def rank(contact: PsaContact) -> tuple[int, str, int]:
        values = contact.values
        full = " ".join(p for p in (values.first_name, values.middle_name, values.last_name) if p)
        if contact.id in user.candidates:
            first = 0
        elif (email and values.email.casefold() == email) or full.casefold() == name:
            first = 1
        else:
            first = 2
        return first, full.casefold(), contact.id

    return sorted(contacts, key=rank)


class ResolveScreen(ModalScreen[Resolution | None]):
    """Returns the admin's resolution, or ``None`` when cancelled."""

    CSS_PATH = "adsync.tcss"
    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel", id="resolve_cancel")]

    def __init__(self, user: UserRecord, contacts: Sequence[PsaContact]) -> None:
        super().__init__()
        self.user = user
        self.contacts = ranked(user, contacts)

    def compose(self) -> ComposeResult:
        user = self.user
        with Vertical(classes="dialog", id="resolve-dialog"):
            yield Static(
                f"{user.name} <{user.email or 'no e-mail'}> ({user.login}):"
                f" {user.conflict_detail or user.conflict_kind or 'conflict'}."
                " Enter picks; it applies from the next run.",
                classes="question",
                markup=False,
            )
            yield FilterInput(
                placeholder="Filter contacts by name or e-mail  (/)", id="resolve-filter"
            )
            yield OptionList(id="resolve-options")
            yield Static("", id="resolve-note", markup=False)

    def on_mount(self) -> None:
        self.fill("")
        self.query_one("#resolve-options").focus()

    def fill(self, text: str) -> None:
        needle = text.strip().casefold()
        matches = [c for c in self.contacts if not needle or needle in contact_line(c).casefold()]
        options = self.query_one("#resolve-options", OptionList)
        options.clear_options()
        options.add_options(
            [
                Option(Text("Create a new contact for this user"), id=NEW),
                Option(Text("Exclude this user from AD sync"), id=EXCLUDE),
                *(
                    Option(
                        Text(
                            ("candidate: " if c.id in self.user.candidates else "contact: ")
                            + contact_line(c)
                        ),
                        id=str(c.id),
                    )
                    for c in matches[:MAX_ROWS]
                ),
            ]
        )
        options.highlighted = 2 if matches else 0
        note = capped_note(min(len(matches), MAX_ROWS), len(matches), text.strip()).strip()
        self.query_one("#resolve-note", Static).update(note)

    @on(Input.Changed, "#resolve-filter")
    def _filtered(self, event: Input.Changed) -> None:
        self.fill(event.value)

    @on(Input.Submitted, "#resolve-filter")
    def _filter_done(self) -> None:
        self.query_one("#resolve-options").focus()

    @on(OptionList.OptionSelected, "#resolve-options")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        chosen = event.option.id or NEW
        if chosen == NEW:
            self.dismiss(Resolution(ResolutionKind.NEW))
        elif chosen == EXCLUDE:
            self.dismiss(Resolution(ResolutionKind.EXCLUDE))
        else:
            self.dismiss(Resolution(ResolutionKind.CONTACT, int(chosen)))

    def action_cancel(self) -> None:
        self.dismiss(None)
