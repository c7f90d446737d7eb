"""Long tables stay fast: at most this many rows are drawn; the filter narrows the rest."""

from __future__ import annotations

import gc

MAX_ROWS = 200


def capped_note(shown: int, matched: int, needle: str = "") -> str:
    """What the table leaves out, or nothing when it shows every match; a filter that
    matches nothing says so rather than leaving a blank table."""
    if matched == 0 and needle:
        return f" No match for {needle!r}."
    if matched <= shown:
        return ""
    return f" Showing {shown:,} of {matched:,} matches; type in the filter to narrow."


def keep_long_lived() -> None:
    """A page just loaded thousands of records it keeps: move everything alive now out of
    the collector's full passes, which otherwise pause a keystroke by about 120 ms at
    10,000 resources (measured by tests/bench/console_scale.py)."""
    gc.freeze()
