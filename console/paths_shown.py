"""A file's path as a notification shows it: folded between its folders, never mid-name."""

from __future__ import annotations

from pathlib import Path

NOTICE_WIDTH = 36
"""Text width of a notification at 80 columns (half the screen, less border and padding)."""


def folded_path(path: Path, width: int = NOTICE_WIDTH) -> str:
    """The path with the home folder as ~, on lines of at most ``width`` that break after
    a '/' (a notification wraps a path, which has no spaces, at any letter)."""
    shown = str(path)
    home = str(Path.home())
    if shown.startswith(home + "/"):
        shown = "~" + shown[len(home) :]
    lines = [""]
    for index, part in enumerate(shown.split("/")):
        piece = "/" + part if index else part
        if lines[-1] and len(lines[-1]) + len(piece) > width:
            lines.append(piece)
        else:
            lines[-1] += piece
    return "\n".join(lines)
