"""A table whose columns are one space apart, not DataTable's two: AD Sync's lists carry
eight to ten columns and must fit 80 columns."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets.data_table import ColumnKey, RowKey

from console.widgets.table import PlainTable


def _spaced(cell: object) -> object:
    if isinstance(cell, Text):
        return Text(" ") + cell
    return f" {cell}" if isinstance(cell, str) else cell


class CompactTable(PlainTable):
    def __init__(self, **options: Any) -> None:
        super().__init__(cell_padding=0, **options)

    def add_column(self, label: str | Text, **options: Any) -> ColumnKey:  # type: ignore[override]
        width = options.pop("width", None)
        return super().add_column(_spaced(label), width=width and width + 1, **options)  # type: ignore[arg-type]

    def add_row(self, *cells: object, **options: Any) -> RowKey:  # type: ignore[override]
        return super().add_row(*map(_spaced, cells), **options)

    def update_cell(  # type: ignore[override]
        self, row_key: RowKey | str, column_key: ColumnKey | str, value: object, **options: Any
    ) -> None:
        super().update_cell(row_key, column_key, _spaced(value), **options)
