"""A fresh small demo profile with its emulator for every end-to-end test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from exchangelib.protocol import close_connections

from tests.e2e.harness import Harness


@pytest.fixture
def harness() -> Iterator[Harness]:
    harness = Harness.create()
    yield harness
    close_connections()
    harness.close()
