"""Durations as support staff read them: "12 min", "5 h", "3 days"."""

from __future__ import annotations

from datetime import timedelta


def age(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} days"
