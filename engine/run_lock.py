"""One sync run per profile at a time, across processes: the daemon, ``msext sync`` and the
console's "sync now".

Two runs of one profile at once would each create the items the other has not recorded yet,
and copy whole mailboxes twice. A run therefore holds an exclusive ``flock`` on
``sync.lock`` in the profile's state directory. The kernel drops the lock when its process
ends, however it ends, so a crashed holder never blocks the next run. The holder writes its
pid and start time into the file, for the line the next run shows.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from engine.errors import UserError
from engine.paths import ProfilePaths

POLL_SECONDS = 0.2


class SyncBusyError(UserError):
    """Another run of the same profile holds the lock; the message names it."""


@dataclass(frozen=True)
class Holder:
    """Who holds a profile's lock, as it wrote itself into the lock file."""

    pid: int | None
    since: datetime | None

    def describe(self) -> str:
        pid = f"pid {self.pid}" if self.pid else "pid unknown"
        since = f", since {self.since:%Y-%m-%d %H:%M:%S} UTC" if self.since else ""
        return pid + since


class RunLock:
    """The lock of one profile: :meth:`acquire` before a run, :meth:`release` after it."""

    def __init__(self, paths: ProfilePaths, name: str = "sync", what: str = "") -> None:
        """``name`` picks the lock file (``sync``: the mailbox sync; AD Sync has one per
        organization); ``what`` names the run in the busy message."""
        self.what = what or f"a sync of profile {paths.name}"
        self.path: Path = paths.state_dir / f"{name}.lock"
        self._file: IO[str] | None = None

    def acquire(self, wait: float = 0.0) -> None:
        """Take the lock, waiting up to ``wait`` seconds for the holder to finish."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle = self.path.open("a+")  # held until release()
        deadline = time.monotonic() + wait
        while not _try_lock(handle):
            if time.monotonic() >= deadline:
                holder = _read_holder(handle)
                handle.close()
                raise self._busy(holder)
            time.sleep(POLL_SECONDS)
        handle.truncate(0)
        # Unbuffered: a note for the next run's message that a full disk cannot write is
        # dropped whole (the run reports the disk), never left to fail again at release.
        with contextlib.suppress(OSError):
            os.write(handle.fileno(), f"{os.getpid()} {int(time.time())}\n".encode())
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.truncate(0)
            self._file.close()  # closing the descriptor drops the flock
            self._file = None

    def check(self) -> None:
        """Raise :class:`SyncBusyError` if a run of this profile is going on now (the console
        asks before it starts one, to say so instead of starting)."""
        if not self.path.exists():
            return
        with self.path.open("a+") as handle:
            if not _try_lock(handle):
                raise self._busy(_read_holder(handle))

    def _busy(self, holder: Holder) -> SyncBusyError:
        return SyncBusyError(
            f"{self.what} is already running ({holder.describe()});"
            " this one was not started: wait for it to finish"
        )


def _try_lock(handle: IO[str]) -> bool:
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _read_holder(handle: IO[str]) -> Holder:
    handle.seek(0)
    parts = handle.read().split()
    try:
        pid, started = int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return Holder(None, None)
    return Holder(pid, datetime.fromtimestamp(started, UTC))
