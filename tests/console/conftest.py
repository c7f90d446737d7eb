"""The console under test: the demo profile on a fixed day, no cursor blink, fixed sizes."""

from __future__ import annotations

from datetime import date

import pytest
from textual.widgets import Input

from console.app import MsextApp
from engine.demo import create_demo_profile
from engine.paths import ProfilePaths
from engine.profile import Profile

DEMO_DAY = date(2026, 11, 24)
"""Every console test and screenshot sees the demo data of this day."""


@pytest.fixture(autouse=True)
def no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    """A blinking cursor makes two screenshots of the same screen differ."""
    monkeypatch.setattr(Input, "cursor_blink", False)


@pytest.fixture
def demo_profile() -> Profile:
    paths = ProfilePaths.for_profile("demo")
    create_demo_profile(paths, today=DEMO_DAY)
    profile = Profile(paths)
    yield profile
    profile.close()


@pytest.fixture
def app(demo_profile: Profile) -> MsextApp:
    return MsextApp(demo_profile)
