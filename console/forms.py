"""Settings pages' shared machinery: a working copy of the settings and the fields that edit it.

A page edits a draft of the saved file (environment overrides are never written back).
Every field is named by its dotted settings key, so the settings model's messages land next
to the field they are about, word for word, and nothing is saved while one remains.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Select, SelectionList, Static, Switch, TextArea

from engine.errors import SettingsError
from engine.settings.model import Settings
from engine.settings.store import SettingsStore, validate


@dataclass(frozen=True)
class Field:
    """One setting on a page."""

    key: str
    label: str
    kind: str = "text"
    """switch, check, text, int, list, lines (one value a line), select, or choices (any
    number of the options, checked in a list)."""
    options: tuple[tuple[str, str], ...] = ()
    note: str = ""
    placeholder: str = ""

    @property
    def widget_id(self) -> str:
        return "f-" + self.key.replace(".", "-")

    @property
    def message_id(self) -> str:
        return "m-" + self.key.replace(".", "-")


class Draft:
    """The page's working copy of the settings file, edited key by key."""

    def __init__(self, store: SettingsStore) -> None:
        self.store = store
        self.saved = store.read_document()
        self.document = copy.deepcopy(self.saved)
        self._defaults = Settings().model_dump(mode="json")

    def add_defaults(self, prefix: str, defaults: dict[str, Any]) -> None:
        """The defaults of a section keyed by data (one organization's AD sync), which the
        settings' own defaults cannot hold; shown by :meth:`get`, never saved."""
        _assign(self._defaults, prefix, defaults)

    def get(self, key: str) -> Any:
        for source in (self.document, self._defaults):
            node: Any = source
            for part in key.split("."):
                node = node.get(part) if isinstance(node, dict) else None
            if node is not None:
                return node
        return None

    def set(self, key: str, value: Any) -> None:
        """Change one key; setting the value it already has (or its default) changes nothing.

        ``None`` returns the key to its default; anything else, an emptied number field's
        ``""`` included, is kept for the settings model to judge, so a cleared field is
        refused with a message instead of quietly becoming the default."""
        if value == self.get(key) or (value is None and self.get(key) is None):
            return
        if value is not None:
            _assign(self.document, key, value)
            return
        node: Any = self.document
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node.pop(last, None)

    @property
    def dirty(self) -> bool:
        return _prune(self.document) != _prune(self.saved)

    def problems(self) -> dict[str, str]:
        try:
            self.settings()
        except SettingsError as error:
            return error.problems
        return {}

    def settings(self) -> Settings:
        """The draft as settings; raises :class:`SettingsError` with every problem."""
        return validate(
            self.document, origin="the page", people=self.store.people_for(self.document)
        )

    def save(self) -> Settings:
        settings = self.settings()
        self.store.save(settings)
        self.saved = self.store.read_document()
        self.document = copy.deepcopy(self.saved)
        return settings

    def discard(self) -> None:
        self.document = copy.deepcopy(self.saved)

    def changed(self, prefix: str) -> bool:
        """Whether anything under a dotted prefix differs from the saved file."""
        return _at(_prune(self.document), prefix) != _at(_prune(self.saved), prefix)


def _at(document: dict[str, Any], prefix: str) -> Any:
    node: Any = document
    for part in prefix.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _assign(document: dict[str, Any], key: str, value: Any) -> None:
    *parents, last = key.split(".")
    node = document
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def _prune(document: Any) -> Any:
    """The document without empty sections, so an emptied section is not a change."""
    if not isinstance(document, dict):
        return document
    pruned = {key: _prune(value) for key, value in document.items()}
    return {key: value for key, value in pruned.items() if value != {}}


def to_value(field: Field, raw: Any) -> Any:
    """What a widget holds, as the document stores it (the model converts and checks)."""
    if field.kind == "list":
        return [part.strip() for part in str(raw).split(",") if part.strip()]
    if field.kind == "lines":
        return [line.strip() for line in str(raw).splitlines() if line.strip()]
    if field.kind == "int":
        text = str(raw).strip()
        return int(text) if text.lstrip("-").isdigit() else text
    if field.kind == "text":
        return str(raw).strip() or None
    return raw


def to_widget(field: Field, value: Any) -> Any:
    if field.kind == "list":
        return ", ".join(value or [])
    if field.kind == "lines":
        return "\n".join(value or [])
    if field.kind == "choices":
        return list(value or [])
    if field.kind in ("text", "int"):
        return "" if value is None else str(value)
    if field.kind == "select":
        return str(value)
    return bool(value)


class FieldRow(Vertical):
    """A label, the control, and the line where the model's message appears."""

    DEFAULT_CSS = """
    FieldRow {
        height: auto;
        margin: 0 0 1 0;
    }
    FieldRow > .line {
        height: auto;
    }
    FieldRow .label {
        width: 36;
        color: $text;
    }
    FieldRow .note {
        color: $text-muted;
        padding-left: 36;
    }
    FieldRow .note.-check {
        padding-left: 4;
    }
    FieldRow .problem {
        color: $error;
        text-style: bold;
        padding-left: 36;
        display: none;
    }
    FieldRow .problem.-shown {
        display: block;
    }
    FieldRow Input, FieldRow Select {
        width: 1fr;
        max-width: 60;
    }
    FieldRow Select > SelectCurrent {
        border: none;
        height: 1;
        padding: 0 1;
        background: $boost;
    }
    FieldRow Select:focus > SelectCurrent {
        border: none;
        background: $primary 30%;
    }
    FieldRow Checkbox, FieldRow Switch {
        border: none;
        height: auto;
        padding: 0;
        background: transparent;
    }
    FieldRow Checkbox {
        width: 1fr;
    }
    FieldRow SelectionList {
        width: 1fr;
        max-width: 60;
        height: auto;
        border: none;
        padding: 0;
    }
    FieldRow TextArea {
        width: 1fr;
        max-width: 60;
        height: 3;
        border: none;
        padding: 0 1;
        background: $boost;
    }
    FieldRow TextArea:focus {
        border: none;
        background: $primary 30%;
        outline-left: thick $accent;
    }
    FieldRow Checkbox:focus, FieldRow Switch:focus {
        border: none;
        background: $primary 30%;
    }
    """

    class Edited(Message):
        def __init__(self, field: Field, value: Any) -> None:
            super().__init__()
            self.field = field
            self.value = value

    class Left(Message):
        """The user left a text field: time to show its message, if any."""

        def __init__(self, field: Field) -> None:
            super().__init__()
            self.field = field

    def __init__(self, field: Field, value: Any) -> None:
        super().__init__(id=f"row-{field.widget_id}")
        self.field = field
        self.initial = to_widget(field, value)

    def compose(self) -> ComposeResult:
        field = self.field
        with Horizontal(classes="line"):
            if field.kind != "check":
                yield Static(field.label, classes="label", markup=False)
            yield self._control()
        if field.note:
            yield Static(field.note, classes=f"note -{field.kind}", markup=False)
        yield Static("", id=field.message_id, classes="problem", markup=False)

    def _control(self) -> Widget:
        field, value = self.field, self.initial
        match field.kind:
            case "switch":
                return Switch(value=value, id=field.widget_id)
            case "check":
                return Checkbox(field.label, value=value, id=field.widget_id)
            case "select":
                return Select(
                    [(label, option) for label, option in field.options],
                    value=value,
                    allow_blank=False,
                    id=field.widget_id,
                )
            case "choices":
                return SelectionList[str](
                    *((label, option, option in value) for label, option in field.options),
                    id=field.widget_id,
                )
            case "lines":
                return TextArea(value, soft_wrap=True, id=field.widget_id)
        return Input(value=value, placeholder=field.placeholder, id=field.widget_id)

    def show_problem(self, message: str | None) -> None:
        line = self.query_one(f"#{self.field.message_id}", Static)
        line.update(f"! {message}" if message else "")
        line.set_class(bool(message), "-shown")

    def reset(self, value: Any) -> None:
        control = self.query_one(f"#{self.field.widget_id}")
        control.value = to_widget(self.field, value)  # type: ignore[attr-defined]
        self.show_problem(None)

    @on(Switch.Changed)
    @on(Checkbox.Changed)
    @on(Select.Changed)
    @on(Input.Changed)
    def _edited(self, event: Message) -> None:
        event.stop()
        raw = getattr(event, "value", None)
        self.post_message(self.Edited(self.field, to_value(self.field, raw)))

    @on(SelectionList.SelectedChanged)
    def _chosen(self, event: SelectionList.SelectedChanged) -> None:
        event.stop()
        chosen = set(event.selection_list.selected)
        # In the options' order, whatever order they were checked in.
        values = [option for _, option in self.field.options if option in chosen]
        self.post_message(self.Edited(self.field, values))

    @on(TextArea.Changed)
    def _lines_edited(self, event: TextArea.Changed) -> None:
        event.stop()
        self.post_message(self.Edited(self.field, to_value(self.field, event.text_area.text)))

    @on(Input.Blurred)
    @on(Input.Submitted)
    @on(events.DescendantBlur, "TextArea")
    def _left(self, event: Message) -> None:
        event.stop()
        self.post_message(self.Left(self.field))
