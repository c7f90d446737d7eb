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


@pytest.fixture(params=["ews", "graph"])
def either_api(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """The small demo reached over EWS, then over Microsoft Graph (R19)."""
    harness = Harness.create(api=request.param)
    yield harness
    close_connections()
    harness.close()


@pytest.fixture(
    params=[("ews", "embedded"), ("ews", "rest"), ("graph", "embedded"), ("graph", "rest")],
    ids=lambda param: "-".join(param),
)
def every_peer(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """The small demo over EWS and Microsoft Graph (R19), each with the embedded PSA and
    with the PSA's REST API."""
    api, psa = request.param
    harness = Harness.create(psa=psa, api=api)
    yield harness
    close_connections()
    harness.close()
