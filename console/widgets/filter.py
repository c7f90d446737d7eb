"""The text field that narrows a page's table: `/` finds it from anywhere on the page."""

from __future__ import annotations

from textual import events
from textual.widgets import Input


class FilterInput(Input):
    """A page's filter. `/` is the key that reaches it, so typed into it again it selects
    the text (the next letters replace it) instead of adding a slash nobody searches for."""

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "slash":
            event.stop()
            event.prevent_default()
            self.select_all()
