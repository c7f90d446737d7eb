"""The profile's own SQLite databases: opening, migrating, one transaction at a time, and
what a SQLite error on them means for the person running msext.

A full disk and a damaged file are conditions of the machine, not bugs: each becomes one
line naming the file and what to do (exit 74 and 2), never "internal error".
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

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


def epoch(moment: datetime | None) -> int | None:
    """A moment as the databases keep it: whole seconds since the epoch."""
    return None if moment is None else int(moment.timestamp())


def moment(seconds: int | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


class SqliteStore:
    """Thread-safe access to one database of the profile, in WAL mode, private to its
    user. Its schema is versioned (``PRAGMA user_version``) and migrated forward on open
    through the subclass's ``MIGRATIONS`` (scripts of ``;``-separated statements)."""

    MIGRATIONS: ClassVar[tuple[str, ...]] = ()
    DESCRIPTION: ClassVar[str] = "database"

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self._lock = threading.RLock()
        with self._translated():
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            if str(path) != ":memory:":
                self._db.execute("PRAGMA journal_mode = WAL")
                Path(path).chmod(0o600)
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA busy_timeout = 10000")
            self._migrate()

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """A full disk or a damaged file as one line naming the database."""
        try:
            yield
        except sqlite3.DatabaseError as error:
            translated = storage_error(error, self.path)
            if translated is None:
                raise
            raise translated from None

    def _migrate(self) -> None:
        """Each step reads the version again inside its write transaction: another
        connection opening the database at the same moment (the daemon's services do) may
        have taken the step meanwhile. An up-to-date database takes no write lock."""
        while self._version() < len(self.MIGRATIONS):
            with self.transaction() as db:
                number = self._version()
                if number >= len(self.MIGRATIONS):
                    break
                for statement in self.MIGRATIONS[number].split(";"):
                    if statement.strip():
                        db.execute(statement.strip())
                db.execute(f"PRAGMA user_version = {number + 1}")

    def _version(self) -> int:
        with self._lock:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(self.MIGRATIONS):
            raise UserError(
                f"the {self.DESCRIPTION} {self.path} is from a newer msext"
                f" (schema {version}); upgrade msext"
            )
        return version

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic step; after a failed statement or commit (a full disk) SQLite may have
        rolled back already, so the rollback is only asked of an open transaction."""
        with self._lock, self._translated():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock, self._translated():
            return self._db.execute(sql, tuple(params)).fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()
