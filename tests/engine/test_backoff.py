"""The wait before asking a throttling server again (issue 17.7)."""

from __future__ import annotations

import pytest

from engine.net.backoff import FLOOR_SECONDS, JITTER, pause, retry_after_seconds


@pytest.mark.parametrize("value", [None, "0", "nan", "inf", "-5", "soon", ""])
def test_a_retry_after_that_asks_for_no_wait_gets_the_exponential_back_off(
    value: str | None,
) -> None:
    for attempt in range(5):
        wait = pause(value, attempt)
        expected = FLOOR_SECONDS * 2**attempt
        assert expected <= wait <= expected * (1 + JITTER)


def test_a_longer_retry_after_is_honoured_with_jitter_on_top() -> None:
    waits = {pause("30", 0) for _ in range(20)}
    assert all(30 <= wait <= 30 * (1 + JITTER) for wait in waits) and len(waits) > 1


def test_an_http_date_is_read_as_the_seconds_until_it() -> None:
    assert retry_after_seconds("Wed, 02 Dec 2026 10:00:30 GMT", now=1796205600.0) == 30.0
