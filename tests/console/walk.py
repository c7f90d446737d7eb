"""Walking the console with Pilot as a person would: type into a field, press a button,
wait for what the page does in the background."""

from __future__ import annotations

from textual.pilot import Pilot
from textual.widgets import Input, Static

from console.app import MsextApp


def text(app: MsextApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def type_into(pilot: Pilot, selector: str, value: str) -> None:
    field = pilot.app.screen.query_one(selector, Input)
    field.focus()
    field.value = ""
    await pilot.press(*value)


async def settle(pilot: Pilot) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def press_button(pilot: Pilot, selector: str) -> None:
    pilot.app.screen.query_one(selector).focus()
    await pilot.press("enter")
    await settle(pilot)
