"""A planted marker secret never shows up where people or other programs can read it."""

from __future__ import annotations

import asyncio
import stat

from console.app import MsextApp
from console.screens.exchange import ExchangeScreen
from engine.demo import SERVICE_ACCOUNT
from engine.paths import ProfilePaths
from engine.profile import Profile
from engine.sandbox.ews import EwsEmulator
from engine.settings.secrets import write_secret_file
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
            await pilot.pause()
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
