"""The Entra ID client secret's expiry warning (issue 19, Setup tab: "secret reference with
its expiry warning")."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from engine.adsync.secret_expiry import SECRET_WARNING_DAYS, secret_expiry_warning

TODAY = date(2026, 12, 2)


@pytest.mark.parametrize("days", [SECRET_WARNING_DAYS + 1, 365])
def test_a_far_expiry_says_nothing(days: int) -> None:
    assert secret_expiry_warning(TODAY + timedelta(days=days), TODAY) == ""


def test_an_unknown_expiry_says_nothing() -> None:
    assert secret_expiry_warning(None, TODAY) == ""


def test_an_expiry_within_the_warning_days_counts_them() -> None:
    warning = secret_expiry_warning(TODAY + timedelta(days=SECRET_WARNING_DAYS), TODAY)
    assert warning.startswith("The client secret expires in 30 days (2027-01-01): make a new")
    assert "in 1 day (" in secret_expiry_warning(TODAY + timedelta(days=1), TODAY)


def test_today_and_past_expiries_say_so() -> None:
    assert secret_expiry_warning(TODAY, TODAY).startswith("The client secret expires today")
    expired = secret_expiry_warning(TODAY - timedelta(days=3), TODAY)
    assert expired.startswith("The client secret expired on 2026-11-29")
