"""The breadcrumb line: where you are on the admin path, fed by the screen stack."""

from __future__ import annotations

from textual.widgets import Static


class Breadcrumb(Static):
    """Shows ``Admin > Extensions & Integrations > ...`` for the screen it sits on."""

    DEFAULT_CSS = """
    Breadcrumb {
        width: 1fr;
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $text;
        text-style: bold;
    }
    """

    SEPARATOR = " > "

    def __init__(self, trail: tuple[str, ...]) -> None:
        super().__init__(self.SEPARATOR.join(trail), markup=False)
        self.trail = trail
