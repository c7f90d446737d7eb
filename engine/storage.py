"""What a SQLite error on the profile's own files means for the person running msext.

A full disk and a damaged file are conditions of the machine, not bugs: each becomes one
line naming the file and what to do (exit 74 and 2), never "internal error".
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from engine.errors import UserError

_FULL = {sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR}
_DAMAGED = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}


class StorageFullError(UserError):
    """A file of the profile cannot be written (no space left, or an I/O error)."""


def storage_error(error: sqlite3.Error, path: Path | str) -> UserError | None:
    """The user's error for ``error`` on database ``path``; ``None`` when it is a bug."""
    code = (getattr(error, "sqlite_errorcode", None) or 0) & 0xFF
    if code in _FULL:
        return StorageFullError(
            f"{path} cannot be written ({error}): free space on its disk; the next run"
            " resumes where this one stopped"
        )
    if code in _DAMAGED:
        return UserError(
            f"{path} is damaged ({error}); move it aside (mv {path} {path}.damaged): msext"
            " makes a new one, and the next run finds its items again by their PSA stamps"
        )
    return None
