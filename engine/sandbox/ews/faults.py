"""Faults switched on at run time: what a busy or failing Exchange server does to a client."""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum


class FaultKind(StrEnum):
    BUSY = "busy"
    """ErrorServerBusy with BackOffMilliseconds, as Exchange throttles."""
    RESET = "reset"
    """The connection closes without an answer."""
    HTTP500 = "http500"
    """A bare HTTP 500 'Server Error in /EWS Application' page."""
    SLOW = "slow"
    """The answer comes after a delay."""
    EXPIRED_SYNC_STATE = "expired_sync_state"
    """SyncFolderItems answers ErrorInvalidSyncStateData."""
    CONNECTION_COUNT = "connection_count"
    """ErrorExceededConnectionCount."""


@dataclass
class _Rule:
    kind: FaultKind
    probability: float
    remaining: int | None
    operations: frozenset[str]
    back_off_ms: int
    delay_ms: int
    spared: int = 0
    """Matching requests still to answer normally before the rule applies."""


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    back_off_ms: int
    delay_ms: int


class Faults:
    """Thread-safe fault switches with a seeded random source, so runs are repeatable."""

    def __init__(self, seed: int = 0) -> None:
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self.injected: Counter[str] = Counter()

    def set(
        self,
        kind: FaultKind,
        probability: float | None = None,
        count: int | None = None,
        operations: set[str] | frozenset[str] = frozenset(),
        back_off_ms: int = 200,
        delay_ms: int = 300,
        after: int = 0,
    ) -> None:
        """Inject ``kind`` into the next ``count`` requests, or each with ``probability``,
        once ``after`` matching requests have been answered normally."""
        if (probability is None) == (count is None):
            raise ValueError("give either a probability or a count")
        rule = _Rule(
            kind, probability or 1.0, count, frozenset(operations), back_off_ms, delay_ms, after
        )
        with self._lock:
            self._rules.append(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def draw(self, operation: str) -> Fault | None:
        """The fault to inject into this request, if any."""
        with self._lock:
            for rule in self._rules:
                if rule.operations and operation not in rule.operations:
                    continue
                if rule.kind is FaultKind.EXPIRED_SYNC_STATE and operation != "SyncFolderItems":
                    continue
                if rule.spared:
                    rule.spared -= 1
                    continue
                if rule.remaining is not None:
                    if rule.remaining <= 0:
                        continue
                    rule.remaining -= 1
                elif self._random.random() >= rule.probability:
                    continue
                self.injected[rule.kind.value] += 1
                return Fault(rule.kind, rule.back_off_ms, rule.delay_ms)
        return None
