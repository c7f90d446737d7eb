"""Printing for the command line: JSON for scripts, aligned text for people, no secrets."""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from collections.abc import Sequence
from typing import Any

from engine.redaction import redactor


def emit(text: str) -> None:
    print(redactor.redact(text), file=sys.stdout)


def emit_json(data: Any) -> None:
    emit(json.dumps(data, indent=2, sort_keys=False, default=str))


def columns() -> int:
    """The terminal's width (COLUMNS, else the terminal, else 80)."""
    return shutil.get_terminal_size().columns


def paragraph(text: str, first: str = "", rest: str = "") -> list[str]:
    """A line of prose wrapped to the terminal's width, with optional indents."""
    return textwrap.wrap(text, columns(), initial_indent=first, subsequent_indent=rest)


GAP = 2
NARROWEST = 10
"""A column is never wrapped narrower than this (or its header)."""


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], width: int | None = None) -> str:
    """A plain aligned table that survives copy and paste into a ticket, as wide as the
    terminal at most: the widest columns (messages, subjects) wrap onto more lines."""
    room = width or columns()
    widths = [len(header) for header in headers]
    for row in rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]
    floors = [max(len(header), NARROWEST) for header in headers]
    while sum(widths) + GAP * (len(widths) - 1) > room:
        widest = max(range(len(widths)), key=lambda i: widths[i] - floors[i])
        if widths[widest] <= floors[widest]:
            break
        widths[widest] -= 1
    lines = []
    for line in (headers, ["-" * width for width in widths], *rows):
        wrapped = [
            textwrap.wrap(cell, width) or [""] for cell, width in zip(line, widths, strict=True)
        ]
        for depth in range(max(map(len, wrapped))):
            parts = [cell[depth] if depth < len(cell) else "" for cell in wrapped]
            lines.append(
                (" " * GAP)
                .join(part.ljust(w) for part, w in zip(parts, widths, strict=True))
                .rstrip()
            )
    return "\n".join(lines)
