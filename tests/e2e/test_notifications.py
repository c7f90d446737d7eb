"""Error notifications (R18) through the synchronization account's mailbox in the emulator."""

from __future__ import annotations

import pytest

from tests.e2e.harness import CHLOE, Harness

RECIPIENT = "it-support@contoso.example"
REFUSAL = {
    "ews": ("[failed] The synchronization account can impersonate", "Fix: Ask the Exchange"),
    "graph": ("[failed] The application access policy includes", "Fix: Add the mailbox"),
}


@pytest.fixture
def harness(either_api: Harness) -> Harness:
    """Notifications go out through EWS or through Graph's sendMail."""
    return either_api


def test_denied_mailbox_is_notified_once_a_day_with_the_diagnosis(harness: Harness) -> None:
    """R18, R19: the General tab's recipient gets one message for Chloe's denied mailbox, with
    the failed check and its fix; three more runs the same day send nothing more."""
    harness.sync()
    (message,) = harness.emulator.sent_messages()
    assert message["to"] == [RECIPIENT]
    assert message["from"] == "svc-msext@contoso.example"
    assert "Chloe Reyes" in message["subject"] and "access denied" in message["subject"]
    body = message["body"]
    failed, fix = REFUSAL["graph" if harness.graph else "ews"]
    assert CHLOE in body and failed in body and fix in body
    for _ in range(3):
        harness.sync()
    assert len(harness.emulator.sent_messages()) == 1


def test_each_error_kind_gets_its_own_message(harness: Harness) -> None:
    """R18: a second kind of error for another user the same day is a second message."""
    harness.sync()
    harness.set("exchange.resources.2.mailbox", "nobody@contoso.example")
    harness.sync()
    subjects = sorted(message["subject"] for message in harness.emulator.sent_messages())
    assert len(subjects) == 2 and "Ben Brooks" in subjects[0] and "Chloe Reyes" in subjects[1]


def test_no_recipients_means_no_message(harness: Harness) -> None:
    """R18: with no recipient set on the General tab, errors are only in the log and status."""
    harness.set("exchange.general.error_recipients", "")
    harness.sync()
    assert harness.emulator.sent_messages() == []


def test_dry_run_sends_nothing(harness: Harness) -> None:
    """R18: a dry run writes nothing anywhere, not even a notification."""
    harness.sync(dry_run=True)
    assert harness.emulator.sent_messages() == []
