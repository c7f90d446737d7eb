"""`msext doctor`: the right verdict and fix for each demo situation (issue: support)."""

from __future__ import annotations

import json
import stat

from tests.e2e.harness import AVA, BEN, CHLOE, Harness

DANIEL = "daniel.kim@contoso.example"


def doctor(harness: Harness, user: str) -> tuple[int, dict]:
    result = harness.cli("doctor", user, "--json")
    return result.returncode, json.loads(result.stdout)


def check(report: dict, key: str) -> dict:
    return next(item for item in report["checks"] if item["key"] == key)


def test_healthy_user_passes_every_check(harness: Harness) -> None:
    harness.settled()
    code, report = doctor(harness, AVA)
    assert code == 0 and report["verdict"] == "ok", report
    assert [c["verdict"] for c in report["checks"]] == ["ok"] * len(report["checks"])


def test_mailbox_not_granted_fails_impersonation_with_the_fix(harness: Harness) -> None:
    """R14: the service account may not impersonate Chloe's mailbox."""
    harness.settled()
    code, report = doctor(harness, CHLOE)
    impersonation = check(report, "impersonation")
    assert code == 2 and impersonation["verdict"] == "failed"
    assert "may not impersonate" in impersonation["evidence"]
    assert "grant" in impersonation["fix"]
    assert check(report, "resolves")["verdict"] == "ok"


def test_user_not_enabled_is_told_where_to_enable(harness: Harness) -> None:
    code, report = doctor(harness, DANIEL)
    enabled = check(report, "enabled")
    assert code == 2 and enabled["verdict"] == "failed"
    assert "Resources tab" in enabled["fix"]
    assert check(report, "impersonation")["verdict"] == "skipped"


def test_contact_conflict_gets_the_seed_remedy(harness: Harness) -> None:
    """R12: Ben runs the Outlook extension with contact integration: a warning with the two
    steps of the seed."""
    harness.settled()
    code, report = doctor(harness, BEN)
    conflict = check(report, "outlook_conflict")
    assert code == 1 and conflict["verdict"] == "warning"
    assert len(conflict["steps"]) == 2 and "Enable contact integration" in conflict["steps"][0]


def test_report_file_is_private_and_has_no_secret(harness: Harness, tmp_path) -> None:
    """Invariant 6: the report for a ticket is 0600 and carries no secret."""
    harness.settled()
    path = tmp_path / "report.txt"
    result = harness.cli("doctor", CHLOE, "--report", str(path))
    text = path.read_text()
    assert result.returncode == 2 and "may not impersonate" in text
    assert harness.secret not in text and harness.secret not in result.stdout
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "exchange.general.secret = file:(redacted)" in text
