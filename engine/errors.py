"""Errors a user can act on.

Anything raised as a :class:`UserError` carries a message that says what is wrong and what
to do; the command line prints it as one line and the console as a notification. Every
other exception is a bug: logged with its traceback, shown as one line.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input or environment, explained in the message."""


class SettingsError(UserError):
    """Settings that break a rule; nothing was saved.

    ``problems`` maps a dotted settings key to the model's message for it, so that the
    console can show each message next to its field.
    """

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{key}: {message}" for key, message in problems.items()))


class SecretError(UserError):
    """A secret reference that cannot be resolved safely."""
