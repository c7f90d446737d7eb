"""A full disk under the state directory: the run fails with one line and exit 74, and the
next run after space returns goes on (issue 17, item 6)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from engine.exchange.runner import RunFinished, RunResult
from engine.exchange.sync import select_users, sync
from engine.profile import Profile
from engine.storage import StorageFullError
from tests.e2e.harness import AVA, Harness

DRIVER = """
set -u
mount -t tmpfs -o size=8m tmpfs "$XDG_STATE_HOME" || exit 99
run() {
    timeout 120 "$PYTHON" -m console.cli --profile e2e sync --once \
        >"$OUT/$1.out" 2>"$OUT/$1.err"
    echo $? >"$OUT/$1.rc"
}
run before
cat /dev/zero >"$XDG_STATE_HOME/filler" 2>/dev/null
run full
rm "$XDG_STATE_HOME/filler"
run after
"""


def _namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-Urm", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


@pytest.mark.skipif(not _namespaces_work(), reason="needs unshare -Urm (user namespaces)")
def test_a_full_disk_fails_the_run_in_one_line_and_the_next_run_recovers(
    harness: Harness, tmp_path: Path
) -> None:
    """The state directory is a real 8 MiB tmpfs (mounted in a user and mount namespace, no
    root needed), so SQLite and the log meet a true ENOSPC, the most faithful reproduction
    here (RLIMIT_FSIZE gives EFBIG and SIGXFSZ instead, max_page_count spares the log). A
    first run fills the state; the disk is then filled up; the next run exits 74 with one
    line on stderr naming the database (on main it hung, with logging tracebacks on
    stderr); with the space back, the run after it succeeds."""
    out = tmp_path / "runs"
    out.mkdir()
    environ = dict(os.environ, OUT=str(out), PYTHON=sys.executable)
    driver = subprocess.run(
        ["unshare", "-Urm", "sh", "-c", DRIVER],
        env=environ,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert driver.returncode == 0, driver.stderr

    def result(name: str) -> tuple[int, str, str]:
        return (
            int((out / f"{name}.rc").read_text()),
            (out / f"{name}.out").read_text(),
            (out / f"{name}.err").read_text(),
        )

    before, stdout, stderr = result("before")
    assert before in (0, 1) and stdout.startswith("Run 1:") and stderr == "", stdout + stderr
    code, stdout, stderr = result("full")
    assert code == 74, (code, stdout, stderr)
    assert stderr.count("\n") == 1 and "state.sqlite" in stderr and "free space" in stderr
    assert "Traceback" not in stdout + stderr
    code, stdout, stderr = result("after")
    assert code == before and stdout.startswith("Run ") and stderr == "", stdout + stderr


def test_a_state_database_that_fills_up_mid_run_fails_the_whole_run(
    harness: Harness,
) -> None:
    """SQLite's `max_page_count` makes the state database full while the users' workers are
    writing (the disk filling during a run, in-process): the run ends within seconds with a
    StorageFullError naming the database. On main each user ended as "internal error:
    database or disk is full" and the run went on as if finished; and a worker whose own
    bookkeeping failed never reported its user, so the run waited for ever (now every user's
    result is reported whatever fails)."""
    harness.sync()
    for day in range(1, 30):
        harness.person_appointment(AVA, f"Planning {day}", day, 9)
    profile = Profile(harness.paths)
    outcome: list[BaseException | RunResult] = []

    def run() -> None:
        try:
            for event in sync(profile, select_users(profile)):
                if isinstance(event, RunFinished):
                    outcome.append(event.result)
        except BaseException as error:  # handed to the test thread
            outcome.append(error)

    try:
        database = profile.state._db  # the store's own connection: the limit is per connection
        pages = database.execute("PRAGMA page_count").fetchone()[0]
        database.execute(f"PRAGMA max_page_count = {pages}")
        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        worker.join(timeout=120)
        assert not worker.is_alive(), "the run hangs"
    finally:
        profile.close()
    (error,) = outcome
    assert isinstance(error, StorageFullError) and "state.sqlite" in str(error), error
