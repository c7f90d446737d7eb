"""A DataTable that shows text as it is."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey


def _plain(cell: object) -> object:
    return Text(cell) if isinstance(cell, str) else cell


class PlainTable(DataTable[object]):
    """DataTable reads a string cell as markup: PSA and mailbox text such as
    "Review [external]" lost its brackets, and "[/b]" stopped the console while drawing.
    Every string put in a PlainTable is shown as typed.

    Home and End go to the first and last row of a row-cursor table (DataTable scrolls
    sideways to the first or last column, which a row cursor never leaves)."""

    def action_scroll_home(self) -> None:
        if self.cursor_type == "row":
            self.action_scroll_top()
        else:
            super().action_scroll_home()

    def action_scroll_end(self) -> None:
        if self.cursor_type == "row":
            self.action_scroll_bottom()
        else:
            super().action_scroll_end()

    def add_row(
        self,
        *cells: object,
        height: int | None = 1,
        key: str | None = None,
        label: str | Text | None = None,
    ) -> RowKey:
        return super().add_row(*map(_plain, cells), height=height, key=key, label=label)

    def update_cell(
        self,
        row_key: RowKey | str,
        column_key: ColumnKey | str,
        value: object,
        *,
        update_width: bool = False,
    ) -> None:
        super().update_cell(row_key, column_key, _plain(value), update_width=update_width)
