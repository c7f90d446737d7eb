"""The PSA REST API's hourly budget, and what polling it for changes spends of it.

The API allows 10,000 requests an hour per database, shared by every integration (then it
suspends them; latency is added from about half). msext's change poll takes at most a
stated share of it, so that the admin sees the cost of an interval before saving it.
"""

from __future__ import annotations

import math

API_REQUESTS_PER_HOUR = 10_000
"""The PSA database's hourly budget, shared by all integrations."""
POLL_SHARE_PERCENT = 10
"""The most of that budget msext's change poll may take."""
REST_IDLE_POLL_REQUESTS = 6
"""Requests of one change poll that finds nothing (Appointments, CompanyToDos,
ServiceCalls, Companies, Contacts, Opportunities; a test counts them)."""


def poll_budget_refusal(seconds: int) -> str | None:
    """Why polling every ``seconds`` takes more than msext's share, with the arithmetic in
    one line; ``None`` when it fits (or the poll is off)."""
    if seconds <= 0:
        return None
    polls = math.ceil(3600 / seconds)
    hourly = REST_IDLE_POLL_REQUESTS * polls
    share = API_REQUESTS_PER_HOUR * POLL_SHARE_PERCENT // 100
    if hourly <= share:
        return None
    shortest = math.ceil(3600 / (share // REST_IDLE_POLL_REQUESTS))
    return (
        f"polling every {seconds} s costs {REST_IDLE_POLL_REQUESTS} requests x {polls:,} polls"
        f" = {hourly:,} requests an hour, {100 * hourly / API_REQUESTS_PER_HOUR:.1f}% of the"
        f" PSA API's {API_REQUESTS_PER_HOUR:,} an hour shared by all integrations; msext takes"
        f" at most {POLL_SHARE_PERCENT}%: choose {shortest} s or more"
    )
