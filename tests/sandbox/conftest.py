"""An emulator per test, stopped (and exchangelib's connection cache cleared) after it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from exchangelib import Account

from engine.sandbox.ews import EwsEmulator
from tests.sandbox.peer import impersonate, new_emulator, serving


@pytest.fixture
def emulator() -> Iterator[EwsEmulator]:
    with serving(new_emulator()) as emulator:
        yield emulator


@pytest.fixture
def alice(emulator: EwsEmulator) -> Account:
    return impersonate(emulator)
