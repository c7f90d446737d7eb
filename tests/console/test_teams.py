"""Admin > ... > Microsoft Extensions > MS Teams (issue 20): channels, rules, error log.

Every interaction on the demo profile (two channels, rules on msext's own problems and on
tickets), saved through the settings model and read back from the saved file.
"""

from __future__ import annotations

import time

from textual.pilot import Pilot
from textual.widgets import DataTable, Select, SelectionList, TabbedContent

from console.app import MsextApp
from console.screens.dialogs import ConfirmScreen
from console.screens.help import HelpScreen
from console.screens.teams.channel_dialog import ChannelDialog
from console.screens.teams.page import TeamsScreen
from console.screens.teams.rule_dialog import RuleDialog
from engine.paths import ProfilePaths
from engine.settings.secrets import resolve_secret
from engine.settings.store import SettingsStore
from engine.teams.cards import card
from engine.teams.delivery import Delivery
from engine.teams.demo import IT_ALERTS, SERVICE_DESK
from engine.teams.outbox import enqueue
from engine.teams.sandbox import received_cards
from tests.console.walk import press_button, settle, text, type_into

WEBHOOK = "https://prod-42.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=SECRETSIG"


def saved_teams():
    return SettingsStore(ProfilePaths.for_profile("demo")).load_saved().teams


def rows(app: MsextApp, table: str) -> list[list[str]]:
    widget = app.screen.query_one(table, DataTable)
    return [[str(cell) for cell in widget.get_row_at(index)] for index in range(widget.row_count)]


async def open_page(pilot: Pilot, tab: str = "tab-channels") -> None:
    pilot.app.go(TeamsScreen)
    await settle(pilot)
    pilot.app.screen.query_one(TabbedContent).active = tab
    await pilot.pause()
    pilot.app.screen.query_one(f"#{tab.removeprefix('tab-')}-table").focus()
    await pilot.pause()


async def test_the_page_is_reached_along_the_admin_path(app: MsextApp) -> None:
    """issue 20: Admin > Extensions & Integrations > Microsoft Extensions > MS Teams, with
    the tabs Channels, Rules and Error Log; the menu says how many channels are active."""
    async with app.run_test(size=(80, 24)) as pilot:
        app.go(TeamsScreen.PARENT)  # type: ignore[arg-type]
        await settle(pilot)
        menu = str(app.screen.query_one("#menu").get_option_at_index(3).prompt)
        assert menu.startswith("MS Teams  [2 of 2 channels active]")
        app.screen.query_one("#menu").highlighted = 3
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TeamsScreen)
        tabs = [str(tab.label) for tab in app.screen.query("Tab")]
        assert tabs == ["Channels", "Rules", "Error Log"]
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        help_text = app.screen.page.HELP
        assert all(word in help_text for word in ("**Channels**", "**Rules**", "**Error Log**"))


async def test_channels_show_their_webhook_masked_rules_and_alerts(app: MsextApp) -> None:
    """issue 20: a channel shows its name, description, webhook URL only as its host (never
    the signature), active, the active rules posting to it and the cards of the last 24 h
    (delivered to the sandbox's Workflows peer, whose last cards the demo shows as text)."""
    paths, teams = app.profile.paths, app.profile.settings.teams
    enqueue(app.profile.teams, IT_ALERTS, card("Sync error", "Chloe Reyes"), "k1")
    delivery = Delivery.for_profile(paths, app.profile.teams)
    try:
        assert delivery.deliver_due() is None
    finally:
        delivery.close()
    assert len(received_cards(paths, IT_ALERTS, teams.channels[IT_ALERTS])) == 1
    async with app.run_test(size=(80, 24)) as pilot:
        await open_page(pilot)
        shown = rows(app, "#channels-table")
        assert shown[0][:5] == ["IT Alerts", "yes", "4", "1", "https://127.0.0.1/…"]
        assert shown[1][:5] == ["Service Desk", "yes", "2", "0", "https://127.0.0.1/…"]
        signature = resolve_secret("file:teams-it-alerts", paths).split("sig=")[1]
        assert all(signature not in cell for row in shown for cell in row)
        note = text(app, "#channels-note")
        assert "msext's sync errors" in note
        assert "Last 1 card(s) the sandbox's channel received" in note
        assert "Sync error\nChloe Reyes" in note


async def test_adding_a_channel_keeps_its_url_in_a_secret_file(app: MsextApp) -> None:
    """issue 20: a new channel's webhook URL goes into a secret file; the settings keep only
    its reference."""
    async with app.run_test(size=(80, 24)) as pilot:
        await open_page(pilot)
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, ChannelDialog)
        await type_into(pilot, "#channel-name", "Escalations")
        await type_into(pilot, "#channel-description", "Critical tickets")
        await type_into(pilot, "#channel-webhook", WEBHOOK)
        app.screen.query_one("#channel-active").value = True
        await press_button(pilot, "#save")
        assert isinstance(app.screen, TeamsScreen)
        assert rows(app, "#channels-table")[2][:5] == [
            "Escalations",
            "yes",
            "0",
            "0",
            "https://prod-42.westeurope.logic.azure.com/…",
        ]
    channel = saved_teams().channels[3]
    assert channel.webhook == "file:teams-channel-3" and channel.active
    assert resolve_secret("file:teams-channel-3", ProfilePaths.for_profile("demo")) == WEBHOOK
    assert "SECRETSIG" not in ProfilePaths.for_profile("demo").config_file.read_text()


async def test_a_channel_the_model_refuses_is_not_saved(app: MsextApp) -> None:
    """issue 20: an active channel needs a name and a webhook; a plain-http URL elsewhere is
    refused; the dialog says why and nothing is saved."""
    async with app.run_test(size=(80, 24)) as pilot:
        await open_page(pilot)
        await pilot.press("a")
        await pilot.pause()
        app.screen.query_one("#channel-active").value = True
        await type_into(pilot, "#channel-name", "Escalations")
        await press_button(pilot, "#save")
        assert text(app, "#channel-problem") == (
            "! webhook: set the secret reference of the channel's webhook URL to activate it"
        )
        await type_into(pilot, "#channel-webhook", "http://example.com/hook")
        await press_button(pilot, "#save")
        assert text(app, "#channel-problem") == "! the webhook URL must be an https:// URL"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, TeamsScreen)
    assert 3 not in saved_teams().channels


async def test_editing_a_channel_keeps_its_url_when_none_is_pasted(app: MsextApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await open_page(pilot)
        await pilot.press("e")
        await pilot.pause()
        await type_into(pilot, "#channel-description", "Everything msext")
        await press_button(pilot, "#save")
    channel = saved_teams().channels[IT_ALERTS]
    assert channel.description == "Everything msext"
    assert channel.webhook == "file:teams-it-alerts"


async def test_a_channel_is_inactivated_and_activated_again(app: MsextApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await open_page(pilot)
        await pilot.press("i")
        await settle(pilot)
        assert rows(app, "#channels-table")[0][1] == "no"
        assert not saved_teams().channels[IT_ALERTS].active
        await pilot.press("i")
        await settle(pilot)
        assert rows(app, "#channels-table")[0][1] == "yes"
    assert saved_teams().channels[IT_ALERTS].active


async def test_a_channel_inactivated_by_its_webhook_says_so(app: MsextApp) -> None:
    """issue 20: a channel delivery inactivated after a 410 shows it and why on the
    Channels tab; the failure is on the Error Log tab with time, channel, status, reason."""
    app.profile.store.set_value(f"teams.channels.{SERVICE_DESK}.active", "false")
    app.profile.reload()
    reason = "410 Gone: the workflow was removed; the channel is inactivated"
    app.profile.teams.log_error(SERVICE_DESK, 410, reason, time.time())
    async with app.run_test(size=(80, 24)) as pilot:
        await open_page(pilot)
        assert rows(app, "#channels-table")[1][1] == "no !"
        await pilot.press("down")
        await pilot.pause()
        note = text(app, "#channels-note")
        assert "the webhook answered 410 (webhook removed)" in note
        await pilot.press("right_square_bracket", "right_square_bracket")
        await pilot.pause()
        (entry,) = rows(app, "#errors-table")
        assert entry[1:] == ["Service Desk", "410", reason]


async def test_deleting_a_channel_asks_and_names_its_rules(app: MsextApp) -> None:
    """issue 20: deleting a channel asks first and names the rules that post to it; they
    lose it, and a rule left without a channel is inactivated."""
    async with app.run_test(size=(80, 24)) as pilot:
        await open_page(pilot)
        await pilot.press("down", "d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.question == (
            "Delete the channel Service Desk? 2 rules post to it: 5 (Ticket created),"
            " 6 (Ticket status changed). They stop posting there (a rule left without a"
            " channel is inactivated)."
        )
        await press_button(pilot, "#yes")
        assert [row[0] for row in rows(app, "#channels-table")] == ["IT Alerts"]
    teams = saved_teams()
    assert SERVICE_DESK not in teams.channels
    assert teams.rules[5].channels == [] and not teams.rules[5].active


async def test_cancelling_a_delete_keeps_the_channel(app: MsextApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await open_page(pilot)
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("escape")
        await settle(pilot)
    assert IT_ALERTS in saved_teams().channels


async def test_rules_show_event_channels_and_conditions(app: MsextApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await open_page(pilot, "tab-rules")
        shown = rows(app, "#rules-table")
        assert shown[0] == ["A user's sync error", "yes", "IT Alerts", "any"]
        assert shown[4] == [
            "Ticket created",
            "yes",
            "Service Desk",
            "priority Critical or High",
        ]


async def test_adding_a_rule_with_conditions(app: MsextApp) -> None:
    """issue 20: a rule is an event, optional conditions on queue, priority and
    organization, one or more channels, and active."""
    async with app.run_test(size=(80, 24)) as pilot:
        await open_page(pilot, "tab-rules")
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, RuleDialog)
        app.screen.query_one("#rule-event", Select).value = "ticket_assigned"
        await type_into(pilot, "#rule-queues", "Level I Support, Post Sale")
        await type_into(pilot, "#rule-organizations", "1")
        app.screen.query_one("#rule-channels", SelectionList).select(IT_ALERTS)
        app.screen.query_one("#rule-channels", SelectionList).select(SERVICE_DESK)
        app.screen.query_one("#rule-active").value = True
        await press_button(pilot, "#save")
        assert isinstance(app.screen, TeamsScreen)
        assert rows(app, "#rules-table")[6][:3] == [
            "Ticket assigned",
            "yes",
            "IT Alerts, Service Desk",
        ]
        assert rows(app, "#rules-table")[6][3].startswith("queue Level I Support or Post Sale;")
        assert rows(app, "#channels-table")[1][2] == "3"
    rule = saved_teams().rules[7]
    assert rule.conditions.queues == ["Level I Support", "Post Sale"]
    assert rule.conditions.organizations == [1]
    assert rule.channels == [IT_ALERTS, SERVICE_DESK]


async def test_an_active_rule_needs_a_channel(app: MsextApp) -> None:
    """The settings model's message, word for word, and nothing saved."""
    async with app.run_test(size=(80, 24)) as pilot:
        await open_page(pilot, "tab-rules")
        await pilot.press("a")
        await pilot.pause()
        app.screen.query_one("#rule-active").value = True
        await press_button(pilot, "#save")
        assert text(app, "#rule-problem") == (
            "! channels: choose at least one channel to activate the rule"
        )
        await type_into(pilot, "#rule-organizations", "Contoso")
        await press_button(pilot, "#save")
        assert "organizations.0: enter a whole number" in text(app, "#rule-problem")
    assert 7 not in saved_teams().rules


async def test_a_rule_is_edited_toggled_and_deleted(app: MsextApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await open_page(pilot, "tab-rules")
        await pilot.press("down", "e")
        await pilot.pause()
        await type_into(pilot, "#rule-priorities", "Critical")
        await press_button(pilot, "#save")
        assert saved_teams().rules[2].conditions.priorities == ["Critical"]
        await pilot.press("i")
        await settle(pilot)
        assert rows(app, "#rules-table")[1][1] == "no"
        assert rows(app, "#channels-table")[0][2] == "3"
        await pilot.press("d")
        await pilot.pause()
        assert app.screen.question == "Delete rule 2 (Mass deletion held)?"
        await press_button(pilot, "#yes")
        assert len(rows(app, "#rules-table")) == 5
    assert 2 not in saved_teams().rules


async def test_test_posts_a_test_card_and_says_what_came_of_it(app: MsextApp) -> None:
    """issue 20: Test posts a test card through the outbox; the demo's IT Alerts takes it,
    the Service Desk webhook answers 410: the channel is inactivated and the tab says so."""
    paths, teams = app.profile.paths, app.profile.settings.teams
    async with app.run_test(size=(80, 24)) as pilot:
        await open_page(pilot)
        await pilot.press("t")
        await settle(pilot)
        (card,) = received_cards(paths, IT_ALERTS, teams.channels[IT_ALERTS])
        assert card["body"][0]["text"] == "msext test card"
        await pilot.press("down", "t")
        await settle(pilot)
        said = [str(n.message) for n in app._notifications]
        assert "IT Alerts: the test card was posted." in said
        assert any(m.startswith("Service Desk: not posted:") and "410" in m for m in said)
        assert rows(app, "#channels-table")[1][1] == "no !"
