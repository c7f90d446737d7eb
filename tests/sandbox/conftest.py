"""An emulator per test, stopped (and exchangelib's connection cache cleared) after it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from exchangelib import Account
from exchangelib.protocol import close_connections

from engine.sandbox.ews import EwsEmulator
from tests.sandbox.peer import impersonate, new_emulator


@pytest.fixture
def emulator() -> Iterator[EwsEmulator]:
    emulator = new_emulator()
    emulator.start()
    yield emulator
    close_connections()
    emulator.stop()


@pytest.fixture
def alice(emulator: EwsEmulator) -> Account:
    return impersonate(emulator)
