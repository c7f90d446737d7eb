"""What the console's tables share: a selection mark, and a cap on the rows drawn (long
tables stay fast; the filter narrows the rest)."""

from __future__ import annotations

import gc

from rich.text import Text

MAX_ROWS = 200


def selection_mark(chosen: bool) -> Text:
    """``[x]`` or ``[ ]``, as text: a plain string in a DataTable cell is read as markup,
    and ``[x]`` would vanish as an unknown style."""
    return Text("[x]" if chosen else "[ ]")


def capped_note(shown: int, matched: int) -> str:
    """What the table leaves out, or nothing when it shows every match."""
    if matched <= shown:
        return ""
    return f" Showing {shown:,} of {matched:,} matches; type in the filter to narrow."


def keep_long_lived() -> None:
    """A page just loaded thousands of records it keeps: move everything alive now out of
    the collector's full passes, which otherwise pause a keystroke by about 120 ms at
    10,000 resources (measured by tests/bench/console_scale.py)."""
    gc.freeze()
