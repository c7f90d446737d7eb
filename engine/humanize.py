"""Numbers as support staff read them: "12 min", "5 h", "3 days", "1 user", "2 users"."""

from __future__ import annotations

from datetime import timedelta


def count(amount: int, noun: str, plural: str = "") -> str:
    """``amount`` and the noun in the number it needs: never "1 users"."""
    return f"{amount} {noun if amount == 1 else plural or noun + 's'}"


def age(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} days"
