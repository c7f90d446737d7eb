"""Regenerate the SVG screenshots in this directory: every screen of the snapshot suite.

Run from anywhere: ``python screenshots/make.py``. The screens are the ones the snapshot
tests check (same demo profile, synced first where the suite syncs it: the mailboxes, or
AD Sync's organizations; or an empty profile for the setup wizard; same fixed day, same
keys), rendered at 80x24 and, for the main ones, at 140x40, in a throw-away profile so
that nothing on this machine is touched.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


async def shoot(name: str, size: tuple[int, int], setup, profile_name: str) -> str:
    """One screen, driven by the snapshot suite's setup, as SVG text."""
    from console.app import MsextApp
    from engine.paths import ProfilePaths
    from engine.profile import Profile

    profile = Profile(ProfilePaths.for_profile(profile_name))
    try:
        app = MsextApp(profile)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            if setup is not None:
                await setup(pilot)
            await pilot.pause()
            return app.export_screenshot(title=f"msext - {name}")
    finally:
        profile.close()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="msext-screens-") as scratch:
        for variable in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
            os.environ[variable] = str(Path(scratch) / variable.lower())
        from textual.widgets import Input

        from console.screens.adsync.organization import OrganizationScreen
        from engine.demo import create_demo_profile
        from engine.paths import ProfilePaths
        from tests.conftest import DEMO_DAY
        from tests.console.adsync_synced import adsync_demo
        from tests.console.synced import sync_demo
        from tests.console.test_snapshots import ADSYNC, FRESH, SCREENS, SYNCED, WIDE

        Input.cursor_blink = False
        OrganizationScreen.TODAY = staticmethod(lambda: DEMO_DAY)  # type: ignore[method-assign]
        shots = [(name, (80, 24), f"{name}.svg") for name in SCREENS]
        shots += [(name, (140, 40), f"{name}-wide.svg") for name in WIDE]
        for name, size, file_name in shots:
            profile_name = "fresh" if name in FRESH else "demo"
            paths = ProfilePaths.for_profile(profile_name)
            for directory in (paths.config_dir, paths.data_dir, paths.state_dir):
                shutil.rmtree(directory, ignore_errors=True)
            if name not in FRESH:
                create_demo_profile(paths, today=DEMO_DAY)
            if name in SYNCED:
                sync_demo(paths)
            if name in ADSYNC:
                adsync_demo(paths)
            svg = asyncio.run(shoot(name, size, SCREENS[name], profile_name))
            (HERE / file_name).write_text(svg, encoding="utf-8")
            print(f"{file_name}  {size[0]}x{size[1]}")


if __name__ == "__main__":
    main()
