"""`msext doctor`: the right verdict and fix for each demo situation (issue: support)."""

from __future__ import annotations

import json
import stat

import pytest

from tests.e2e.harness import AVA, BEN, CHLOE, Harness

DANIEL = "daniel.kim@contoso.example"


@pytest.fixture
def harness(either_api: Harness) -> Harness:
    """Each diagnosis holds over EWS and over Graph (R19)."""
    return either_api


def access_key(harness: Harness) -> str:
    """The check of the account's (EWS) or the app's (Graph) access to the mailbox."""
    return "access_policy" if harness.graph else "impersonation"


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
    """R14, R19: the service account may not impersonate Chloe's mailbox (EWS); the
    application access policy leaves it out (Graph)."""
    harness.settled()
    code, report = doctor(harness, CHLOE)
    access = check(report, access_key(harness))
    assert code == 2 and access["verdict"] == "failed"
    if harness.graph:
        assert "application access policy does not include" in access["evidence"]
        assert (
            f'Add-DistributionGroupMember -Identity "msext mailboxes" -Member {CHLOE}'
            in (access["fix"])
        )
        assert check(report, "permissions")["verdict"] == "skipped"
    else:
        assert "may not impersonate" in access["evidence"] and "grant" in access["fix"]
    assert check(report, "resolves")["verdict"] == "ok"


def test_user_not_enabled_is_told_where_to_enable(harness: Harness) -> None:
    code, report = doctor(harness, DANIEL)
    enabled = check(report, "enabled")
    assert code == 2 and enabled["verdict"] == "failed"
    assert "Resources tab" in enabled["fix"]
    assert check(report, access_key(harness))["verdict"] == "skipped"


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
    refusal = "access policy does not include" if harness.graph else "may not impersonate"
    assert result.returncode == 2 and refusal in text
    assert harness.secret not in text and harness.secret not in result.stdout
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "exchange.general.secret = file:(redacted)" in text
