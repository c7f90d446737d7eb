"""The breadcrumb line: where you are on the admin path, fed by the screen stack."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

ELIDED = "…"


def fitted(trail: tuple[str, ...], width: int, separator: str) -> str:
    """The trail in ``width`` columns: the crumbs after the root give way first (as "…"),
    so that the page itself, the end of the path, stays readable."""
    for skipped in range(len(trail) - 1):
        shown = trail if not skipped else (trail[0], ELIDED, *trail[skipped + 1 :])
        line = separator.join(shown)
        if len(line) <= width:
            return line
    return (
        separator.join((trail[0], ELIDED, trail[-1])) if len(trail) > 2 else separator.join(trail)
    )


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

    def render(self) -> Content:
        width = self.content_region.width
        return Content(fitted(self.trail, width, self.SEPARATOR) if width else "")
