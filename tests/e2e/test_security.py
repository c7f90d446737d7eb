"""A planted marker secret never shows up where people or other programs can read it."""

from __future__ import annotations

import asyncio
import signal
import stat
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import tomli_w

from console.app import MsextApp
from console.screens.exchange.page import ExchangeScreen
from engine.demo import SERVICE_ACCOUNT
from engine.paths import ProfilePaths
from engine.profile import Profile
from engine.sandbox.ews import EwsEmulator
from engine.settings.secrets import write_secret_file
from tests.console.walk import settle
from tests.e2e.credential_trap import CredentialTrap
from tests.e2e.harness import BEN, CHLOE, Harness

MARKER = "MARKER-pl4nted-s3cret-7f3a"


def private(path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) == 0o600


async def console_screens(paths: ProfilePaths) -> list[str]:
    """The General tab and its connection test, as SVG text."""
    profile = Profile(paths)
    try:
        app = MsextApp(profile)
        shots = []
        async with app.run_test(size=(120, 40)) as pilot:
            app.go(ExchangeScreen)
            await settle(pilot)
            shots.append(app.export_screenshot())
            app.screen.query_one("#test-connection").focus()
            await pilot.press("enter")
            await app.workers.wait_for_complete()
            await pilot.pause()
            shots.append(app.export_screenshot())
        return shots
    finally:
        profile.close()


def test_marker_secret_is_in_no_output_log_report_screen_or_message(
    harness: Harness, tmp_path
) -> None:
    """Invariant 6 (R18 messages included): with the service account's secret set to a
    marker, every CLI output, the log file, a doctor report, the console's General tab and
    the error notification are free of it; config, secret and report files are 0600."""
    write_secret_file(harness.paths, "ews-service-account", MARKER)
    harness.emulator.stop()
    harness.emulator = EwsEmulator(
        db_path=harness.paths.sandbox_db, service_account=(SERVICE_ACCOUNT, MARKER)
    )
    harness.set("exchange.general.ews_url", harness.emulator.start())
    report = tmp_path / "report.json"
    outputs = [
        harness.cli("sync", "--once", "--json"),
        harness.cli("status", "--json"),
        harness.cli("config", "show"),
        harness.cli("config", "show", "--json"),
        harness.cli("config", "check", "--json"),
        harness.cli("compare", BEN, "--json"),
        harness.cli("doctor", CHLOE, "--json"),
        harness.cli("doctor", CHLOE, "--report", str(report)),
    ]
    assert '"created"' in outputs[0].stdout, outputs[0].stderr
    texts = [result.stdout + result.stderr for result in outputs]
    texts.append(harness.paths.log_file.read_text(encoding="utf-8"))
    texts.append(report.read_text(encoding="utf-8"))
    texts += asyncio.run(console_screens(harness.paths))
    messages = harness.emulator.sent_messages()
    assert messages, "the denied mailbox produced a notification"
    texts += [f"{message['subject']} {message['body']}" for message in messages]
    for text in texts:
        assert MARKER not in text
    secret = harness.paths.secrets_dir / "ews-service-account"
    assert secret.read_text(encoding="utf-8").strip() == MARKER
    for path in (harness.paths.config_file, secret, report, harness.paths.state_db):
        assert private(path), path


@pytest.mark.parametrize(
    "reference", ["file:{outside}", "env:DEPLOY_TOKEN"], ids=["file-elsewhere", "foreign-env"]
)
def test_a_secret_reference_cannot_send_another_secret_to_a_hostile_server(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reference: str
) -> None:
    """Invariant 6: a reference to a private file outside the profile's secrets directory
    (a 0600 SSH key) or to a variable that is not msext's own (a deploy token) is refused by
    `config set`, and a config file holding one anyway stops `sync` with exit 2 and one
    line: the hostile server the EWS URL points to receives neither."""
    key = tmp_path / "id_ed25519"
    key.write_text(MARKER, encoding="utf-8")
    key.chmod(0o600)
    monkeypatch.setenv("DEPLOY_TOKEN", MARKER)
    ref = reference.format(outside=key)
    with CredentialTrap() as trap:
        harness.set("exchange.general.ews_url", trap.url)
        before = harness.paths.config_file.read_bytes()
        document = tomllib.loads(before.decode("utf-8"))
        document["exchange"]["general"]["secret"] = ref
        harness.paths.config_file.write_text(tomli_w.dumps(document), encoding="utf-8")
        run = harness.cli("sync", "--once")
        assert not trap.got(MARKER)
        harness.paths.config_file.write_bytes(before)
        refused = harness.cli("config", "set", "exchange.general.secret", ref)
    assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stdout + run.stderr
    assert "secrets directory" in run.stderr or "MSEXT_SECRET_" in run.stderr
    assert MARKER not in run.stdout + run.stderr
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert harness.paths.config_file.read_bytes() == before


NEWLINE_SECRET = "first-half-of-the-s3cret\nsecond-half-of-the-s3cret"


def test_a_secret_with_a_line_break_is_masked_on_stderr_and_in_the_daemons_log(
    tmp_path: Path,
) -> None:
    """Invariant 6: a PSA API secret holding a newline makes the HTTP client fail with the
    header quoted as bytes; `msext sync` prints one masked line, and the daemon's log
    (traceback included) and stderr hold neither half of it."""
    harness = Harness.create(psa="rest")
    try:
        write_secret_file(harness.paths, "psa-rest", NEWLINE_SECRET)
        run = harness.cli("sync", "--once")
        daemon = subprocess.Popen(
            [sys.executable, "-m", "console.cli", "--profile", harness.paths.name, "daemon"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while "run failed" not in harness.paths.log_file.read_text(encoding="utf-8"):
            assert time.monotonic() < deadline and daemon.poll() is None
            time.sleep(0.2)
        daemon.send_signal(signal.SIGTERM)
        out, err = daemon.communicate(timeout=30)
        log = harness.paths.log_file.read_text(encoding="utf-8")
    finally:
        harness.close()
    assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
    assert "Traceback" in log
    for half in NEWLINE_SECRET.splitlines():
        for text in (run.stdout, run.stderr, out, err, log):
            assert half not in text
