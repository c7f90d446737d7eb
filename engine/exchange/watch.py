"""Mailbox watchers' health, as each watcher reports it (issue 21's shared design)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class WatchReport:
    api: str  # "ews" | "graph"
    mode: str  # "notifications" | "polling" (fallback or not configured)
    watched: int  # mailboxes with a live subscription
    lapsed: Mapping[str, str]  # address -> why its subscription lapsed or failed
    at: datetime
