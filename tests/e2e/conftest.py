"""A fresh small demo profile with its emulator for every end-to-end test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from exchangelib.protocol import close_connections

from tests.e2e.harness import Harness


def _harness(**options: str) -> Iterator[Harness]:
    harness = Harness.create(**options)
    yield harness
    close_connections()
    harness.close()


@pytest.fixture
def harness() -> Iterator[Harness]:
    yield from _harness()


@pytest.fixture(params=["ews", "graph"])
def either_api(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """The small demo reached over EWS, then over Microsoft Graph (R19)."""
    yield from _harness(api=request.param)


@pytest.fixture(params=["embedded", "rest"])
def either_psa(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """The small demo over EWS, reading the embedded PSA, then the PSA's REST API."""
    yield from _harness(psa=request.param)


@pytest.fixture(
    params=[("ews", "embedded"), ("ews", "rest"), ("graph", "embedded"), ("graph", "rest")],
    ids=lambda param: "-".join(param),
)
def every_peer(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """The small demo over EWS and Microsoft Graph (R19), each with the embedded PSA and
    with the PSA's REST API."""
    api, psa = request.param
    yield from _harness(psa=psa, api=api)
