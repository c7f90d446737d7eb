"""Printing for the command line: JSON for scripts, aligned text for people, no secrets."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from engine.redaction import redactor


def emit(text: str) -> None:
    print(redactor.redact(text), file=sys.stdout)


def emit_json(data: Any) -> None:
    emit(json.dumps(data, indent=2, sort_keys=False, default=str))


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain aligned table that survives copy and paste into a ticket."""
    widths = [len(header) for header in headers]
    for row in rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in (headers, ["-" * width for width in widths], *rows)
    ]
    return "\n".join(lines)
