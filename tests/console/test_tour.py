"""The demo's guided tour: offered once, walks the admin path, remembered when ended."""

from __future__ import annotations

from textual.widgets import Static

from console.app import MsextApp
from console.screens.admin import AdminScreen, MicrosoftExtensionsScreen
from console.screens.exchange.page import ExchangeScreen
from console.screens.tour import TourScreen
from engine.profile import Profile


def below(app: MsextApp) -> type:
    """The page under the tour card."""
    return type(app.screen_stack[-2])


async def test_tour_walks_the_admin_path_and_is_remembered(demo_profile: Profile) -> None:
    """R13: the tour opens Admin, then Microsoft Extensions, then MS Exchange under its
    cards; Esc ends it, and it is not offered again."""
    app = MsextApp(demo_profile, offer_tour=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert isinstance(app.screen, TourScreen) and below(app) is AdminScreen
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, TourScreen) and below(app) is MicrosoftExtensionsScreen
        await pilot.press("right")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert below(app) is ExchangeScreen
        assert str(app.screen.query_one("#tour-title", Static).render()).startswith("3/5")
        await pilot.press("left")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert below(app) is MicrosoftExtensionsScreen
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MicrosoftExtensionsScreen)
    assert Profile(demo_profile.paths).settings.console.tour_seen
    again = MsextApp(Profile(demo_profile.paths), offer_tour=True)
    async with again.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(again.screen, AdminScreen)


async def test_tour_is_not_offered_outside_the_demo(app: MsextApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, AdminScreen)
