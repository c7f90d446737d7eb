"""The configuration: models (``model``), the file and environment (``store``), secrets."""

from engine.settings.model import (
    AuthType,
    ContactScope,
    ExchangeVersion,
    ImportMode,
    PsaKind,
    ServerType,
    Settings,
    TodoFolder,
)
from engine.settings.store import SettingsStore

__all__ = [
    "AuthType",
    "ContactScope",
    "ExchangeVersion",
    "ImportMode",
    "PsaKind",
    "ServerType",
    "Settings",
    "SettingsStore",
    "TodoFolder",
]
