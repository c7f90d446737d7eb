"""When the app registration's client secret runs out: Entra ID refuses the sign-in from that
day on, and every run fails, so the admin is warned while there is time to renew it."""

from __future__ import annotations

from datetime import date

from engine.humanize import count

SECRET_WARNING_DAYS = 30
"""How long ahead the expiry is announced: time to make a new secret and update the vault."""


def secret_expiry_warning(expires: date | None, today: date) -> str:
    """One line about the client secret's expiry, or "" while it is far off (or unknown)."""
    if expires is None:
        return ""
    left = (expires - today).days
    renew = "make a new client secret in the app registration and update the reference"
    if left < 0:
        return f"The client secret expired on {expires:%Y-%m-%d}: {renew}."
    if left == 0:
        return f"The client secret expires today: {renew}."
    if left <= SECRET_WARNING_DAYS:
        return f"The client secret expires in {count(left, 'day')} ({expires:%Y-%m-%d}): {renew}."
    return ""
