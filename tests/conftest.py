"""Every test gets its own empty XDG directories, so profiles never leak between tests."""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import pytest

from engine.demo import create_demo_profile
from engine.paths import ProfilePaths

DEMO_DAY = date(2026, 11, 24)
"""Every console test and screenshot sees the demo data of this day."""
XDG_DIRS = ("xdg_config_home", "xdg_data_home", "xdg_state_home")


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    for name in list(os.environ):
        if name.startswith("MSEXT_"):
            monkeypatch.delenv(name)
    return tmp_path


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo profile made once; each test gets a copy (making it takes seconds)."""
    root = tmp_path_factory.mktemp("demo-template")
    with pytest.MonkeyPatch.context() as patch:
        for name in XDG_DIRS:
            patch.setenv(name.upper(), str(root / name))
        create_demo_profile(ProfilePaths.for_profile("demo"), today=DEMO_DAY)
    return root


def copy_profiles(template: Path, isolated_dirs: Path) -> None:
    """Put the profiles of a template into this test's own XDG directories."""
    for name in XDG_DIRS:
        shutil.copytree(template / name, isolated_dirs / name, dirs_exist_ok=True)
