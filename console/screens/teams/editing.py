"""Saving a change of the MS Teams settings from a dialog: the settings model checks the
whole document, and its message is shown word for word."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.errors import SettingsError, UserError
from engine.profile import Profile


def save_teams(profile: Profile, change: Callable[[dict[str, Any]], None], origin: str) -> None:
    """Apply ``change`` to the saved settings and save them (nothing is saved when a rule is
    broken); the profile reads them again."""
    profile.store.update(change, origin)
    profile.reload()


def problem_line(error: SettingsError | UserError) -> str:
    """The model's messages, each with the key it is about (without the ``teams.`` part)."""
    if isinstance(error, SettingsError):
        return "; ".join(
            f"{key.split('.', 3)[-1]}: {message}" for key, message in error.problems.items()
        )
    return str(error)
