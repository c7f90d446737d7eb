"""The console under test: the demo profile on a fixed day, no cursor blink, fixed sizes."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual.widgets import Input

from console.app import MsextApp
from engine.paths import ProfilePaths
from engine.profile import Profile
from tests.conftest import DEMO_DAY, XDG_DIRS, copy_profiles


@pytest.fixture(autouse=True)
def no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    """A blinking cursor makes two screenshots of the same screen differ."""
    monkeypatch.setattr(Input, "cursor_blink", False)


@pytest.fixture(autouse=True)
def demo_day(monkeypatch: pytest.MonkeyPatch) -> None:
    """AD Sync's client secret expiry is counted from the demo's day, not the suite's."""
    from console.screens.adsync.organization import OrganizationScreen

    monkeypatch.setattr(OrganizationScreen, "TODAY", staticmethod(lambda: DEMO_DAY))


def _template_after(demo_template: Path, root: Path, step: Callable[[ProfilePaths], None]) -> Path:
    """A copy of the demo template with ``step`` done to its profile."""
    with pytest.MonkeyPatch.context() as patch:
        for name in XDG_DIRS:
            shutil.copytree(demo_template / name, root / name)
            patch.setenv(name.upper(), str(root / name))
        step(ProfilePaths.for_profile("demo"))
    return root


@pytest.fixture(scope="session")
def synced_template(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo template after one sync of every user, stamped at a fixed moment."""
    from tests.console.synced import sync_demo

    return _template_after(demo_template, tmp_path_factory.mktemp("synced-template"), sync_demo)


@pytest.fixture(scope="session")
def adsync_template(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo template after one AD sync run of each organization, at a fixed moment."""
    from tests.console.adsync_synced import adsync_demo

    root = tmp_path_factory.mktemp("adsync-template")
    return _template_after(demo_template, root, adsync_demo)


def _profile_from(template: Path, isolated_dirs: Path) -> Iterator[Profile]:
    copy_profiles(template, isolated_dirs)
    profile = Profile(ProfilePaths.for_profile("demo"))
    yield profile
    profile.close()


@pytest.fixture
def demo_profile(demo_template: Path, isolated_dirs: Path) -> Iterator[Profile]:
    yield from _profile_from(demo_template, isolated_dirs)


@pytest.fixture
def synced_profile(synced_template: Path, isolated_dirs: Path) -> Iterator[Profile]:
    """The demo profile as it is after its first sync."""
    yield from _profile_from(synced_template, isolated_dirs)


@pytest.fixture
def adsync_profile(adsync_template: Path, isolated_dirs: Path) -> Iterator[Profile]:
    """The demo profile as it is after each organization's first AD sync run."""
    yield from _profile_from(adsync_template, isolated_dirs)


@pytest.fixture
def adsync_app(adsync_profile: Profile) -> MsextApp:
    return MsextApp(adsync_profile)


@pytest.fixture
def app(demo_profile: Profile) -> MsextApp:
    return MsextApp(demo_profile)


@pytest.fixture
def fresh_app(isolated_dirs: Path) -> Iterator[MsextApp]:
    """The console on a profile with nothing configured yet."""
    profile = Profile(ProfilePaths.for_profile("fresh"))
    yield MsextApp(profile)
    profile.close()


@pytest.fixture
def synced_app(synced_profile: Profile) -> MsextApp:
    return MsextApp(synced_profile)
