"""The MS Exchange and MS Outlook pages, driven by keys as an administrator would."""

from __future__ import annotations

from textual.widgets import DataTable, Input, Select, Static, Switch, TabbedContent

from console.app import MsextApp
from console.screens.admin import MicrosoftExtensionsScreen
from console.screens.dialogs import ConfirmScreen, LeaveScreen
from console.screens.exchange.mailbox_dialog import MailboxScreen
from console.screens.exchange.page import ExchangeScreen
from console.screens.outlook.page import OutlookScreen
from engine.profile import Profile
from tests.e2e.harness import serve_rest_psa

INTERVAL = "#f-exchange-sync-interval_minutes"
INTERVAL_MESSAGE = "#m-exchange-sync-interval_minutes"


async def open_exchange(app: MsextApp, pilot, tab: str | None = None) -> ExchangeScreen:
    app.go(ExchangeScreen)
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, ExchangeScreen)
    if tab:
        screen.query_one(TabbedContent).active = tab
        await pilot.pause()
    return screen


async def type_into(pilot, selector: str, text: str) -> None:
    field = pilot.app.screen.query_one(selector, Input)
    field.focus()
    await pilot.pause()
    await pilot.press("end", *["backspace"] * len(field.value), *text)


async def run_connection_test(pilot, screen: ExchangeScreen, mailbox: str) -> str:
    """Press Test connection for ``mailbox`` and wait for its report."""
    screen.query_one("#test-mailbox", Select).value = mailbox
    screen.query_one("#test-connection").focus()
    await pilot.press("enter")
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    return str(screen.query_one("#test-result").render())


def saved(profile: Profile):
    return profile.store.load_saved()


async def test_keys_alone_reach_ms_exchange_and_its_three_tabs(app: MsextApp) -> None:
    """R13: Admin > Extensions & Integrations > Microsoft Extensions > MS Exchange by keys,
    a page of exactly three tabs switched with the arrow keys."""
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter", "enter", "down", "down", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ExchangeScreen)
        tabs = app.screen.query_one(TabbedContent)
        assert [str(tab.label) for tab in tabs.query("Tab")] == [
            "General",
            "Synchronization",
            "Resources",
        ]
        app.screen.query_one("Tabs").focus()
        await pilot.press("right")
        assert tabs.active == "tab-sync"
        await pilot.press("right")
        assert tabs.active == "tab-resources"


async def test_interval_of_five_is_refused_and_fifteen_is_saved(
    app: MsextApp, demo_profile: Profile
) -> None:
    """R01: 5 shows the model's message next to the field and saves nothing; 15 saves."""
    before = demo_profile.store.path.read_bytes()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_exchange(app, pilot, "tab-sync")
        await type_into(pilot, INTERVAL, "5")
        await pilot.press("tab")
        message = screen.query_one(INTERVAL_MESSAGE, Static)
        assert str(message.render()) == "! sync interval must be at least 10 minutes (R01)"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert demo_profile.store.path.read_bytes() == before
        await type_into(pilot, INTERVAL, "15")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert str(message.render()) == ""
    assert saved(demo_profile).exchange.sync.interval_minutes == 15
    assert "interval_minutes = 15" in demo_profile.store.path.read_text()


async def test_an_emptied_interval_is_refused_not_silently_defaulted(
    app: MsextApp, demo_profile: Profile
) -> None:
    """R01: clearing the interval and saving shows why beside the field and saves nothing;
    the value does not quietly fall back to the default."""
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_exchange(app, pilot, "tab-sync")
        await type_into(pilot, INTERVAL, "45")
        await pilot.press("ctrl+s")
        await pilot.pause()
        await type_into(pilot, INTERVAL, "")
        await pilot.press("ctrl+s")
        await pilot.pause()
        message = str(screen.query_one(INTERVAL_MESSAGE, Static).render())
        assert message == "! enter a whole number"
        assert "Unsaved changes" in str(screen.query_one("#page-status").render())
    assert saved(demo_profile).exchange.sync.interval_minutes == 45


async def test_errors_on_another_tab_bring_it_forward(app: MsextApp) -> None:
    """Save validates the whole page: a bad value on the General tab is shown there."""
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_exchange(app, pilot)
        await type_into(pilot, "#f-exchange-general-error_recipients", "not-an-address")
        screen.query_one(TabbedContent).active = "tab-sync"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert screen.query_one(TabbedContent).active == "tab-general"
        problem = screen.query_one("#m-exchange-general-error_recipients", Static)
        assert "e-mail address" in str(problem.render())


async def test_unsaved_changes_are_marked_and_confirmed_on_leaving(
    app: MsextApp, demo_profile: Profile
) -> None:
    """Stay keeps the page, Discard leaves without saving, Save leaves with the change."""
    before = demo_profile.store.path.read_bytes()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_exchange(app, pilot, "tab-sync")
        await type_into(pilot, INTERVAL, "45")
        assert "Unsaved changes" in str(screen.query_one("#page-status").render())
        tab = screen.query_one(TabbedContent).get_tab("tab-sync")
        assert str(tab.label) == "Synchronization *"
        await pilot.press("escape")
        assert isinstance(app.screen, LeaveScreen)
        await pilot.click("#stay")
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("escape")
        await pilot.click("#discard")
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, MicrosoftExtensionsScreen)
        assert demo_profile.store.path.read_bytes() == before
        screen = await open_exchange(app, pilot, "tab-sync")
        await type_into(pilot, INTERVAL, "45")
        await pilot.press("escape")
        await pilot.click("#save")
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, MicrosoftExtensionsScreen)
    assert saved(demo_profile).exchange.sync.interval_minutes == 45


async def test_cancel_discards_after_asking(app: MsextApp, demo_profile: Profile) -> None:
    before = demo_profile.store.path.read_bytes()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_exchange(app, pilot, "tab-sync")
        await type_into(pilot, INTERVAL, "60")
        await pilot.click("#cancel")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.click("#yes")
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, MicrosoftExtensionsScreen)
    assert demo_profile.store.path.read_bytes() == before


async def test_leaving_by_palette_asks_too(app: MsextApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await open_exchange(app, pilot, "tab-sync")
        await type_into(pilot, INTERVAL, "60")
        await pilot.press("ctrl+p", *"users")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, LeaveScreen)


async def test_clearing_share_contacts_removes_the_conflict(
    app: MsextApp, demo_profile: Profile
) -> None:
    """R12: clear "Share contacts ..." and save: Ben Brooks' contact conflict is gone."""
    ben = demo_profile.find_user("ben.brooks@contoso.example")
    assert "contacts_both" in [c.code for c in demo_profile.comparison(ben).conflicts]
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_exchange(app, pilot, "tab-sync")
        screen.query_one("#f-exchange-sync-share_contacts").focus()
        await pilot.press("space", "ctrl+s")
        await pilot.pause()
    assert "contacts_both" not in [c.code for c in demo_profile.comparison(ben).conflicts]


async def test_resources_filter_disable_enable_and_mailbox(
    app: MsextApp, demo_profile: Profile
) -> None:
    """Resources tab: filter, select, disable after confirming, enable, edit the mailbox with
    the model's check; saved together."""
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_exchange(app, pilot, "tab-resources")
        table = screen.query_one("#resources-table", DataTable)
        assert table.row_count == 30
        table.focus()
        await pilot.press("slash", *"fischer", "enter")
        assert table.row_count == 1
        await pilot.press("space", "d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.click("#yes")
        await pilot.pause()
        await pilot.pause()
        assert str(table.get_row_at(0)[1]) == "no"
        assert str(screen.query_one(TabbedContent).get_tab("tab-resources").label).endswith("*")
        await pilot.press("m")
        assert isinstance(app.screen, MailboxScreen)
        field = app.screen.query_one("#mailbox-input", Input)
        field.value = "not an address"
        await pilot.press("enter")
        assert "e-mail address" in str(app.screen.query_one("#mailbox-problem").render())
        field.value = "ava@mail.contoso.example"
        await pilot.press("enter")
        await pilot.pause()
        assert str(table.get_row_at(0)[3]) == "ava@mail.contoso.example"
        await pilot.press("ctrl+s")
        await pilot.pause()
    settings = saved(demo_profile)
    assert settings.resource(1).enabled is False
    assert settings.resource(1).mailbox == "ava@mail.contoso.example"


async def test_test_connection_reports_each_step(app: MsextApp) -> None:
    """R14: endpoint, credentials, impersonation; a mailbox not granted fails its step."""
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await open_exchange(app, pilot)
        result = await run_connection_test(pilot, screen, "ava.fischer@contoso.example")
        assert "[ok] EWS endpoint" in result and "[ok] Impersonation" in result
        result = await run_connection_test(pilot, screen, "chloe.reyes@contoso.example")
        assert "[failed] Impersonation of chloe.reyes@contoso.example (R14)" in result


async def test_office_365_through_graph_is_chosen_saved_and_tested(
    app: MsextApp, demo_profile: Profile
) -> None:
    """R19: Office 365 and Microsoft Graph are chosen by keys; Graph for on-premises is
    refused on its field; saved, the test signs in as the app and checks its access."""
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await open_exchange(app, pilot)
        screen.query_one("#f-exchange-general-mailbox_api").focus()
        await pilot.press("enter", "down", "enter")
        await pilot.press("ctrl+s")
        await pilot.pause()
        problem = str(screen.query_one("#m-exchange-general-mailbox_api", Static).render())
        assert "Office 365 mailboxes only" in problem
        assert saved(demo_profile).exchange.general.mailbox_api == "ews"
        screen.query_one("#f-exchange-general-server_type").focus()
        await pilot.press("enter", "down", "down", "enter")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert saved(demo_profile).exchange.general.mailbox_api == "graph"
        result = await run_connection_test(pilot, screen, "ava.fischer@contoso.example")
        assert "[ok] Microsoft Graph endpoint: the embedded Graph emulator answers" in result
        assert "[ok] Application permissions for ava.fischer@contoso.example" in result


async def test_fields_of_the_other_mailbox_api_are_greyed_out(app: MsextApp) -> None:
    """R19: with Graph chosen the EWS-only fields are greyed out and skipped by tab (their
    values stay, for a way back); with EWS the Graph URL and the change notification
    fields are, and tab skips them."""
    ews_only = ("ews_url", "autodiscover_email", "impersonation", "auth_type", "exchange_version")
    graph_only = (
        "graph_url",
        "notification_url",
        "notification_listen",
        "notification_certificate",
        "notification_key",
    )
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await open_exchange(app, pilot)

        def greyed(name: str) -> bool:
            return screen.query_one(f"#row-f-exchange-general-{name}").disabled

        assert not any(greyed(name) for name in ews_only)
        assert all(greyed(name) for name in graph_only)
        screen.query_one("#f-exchange-general-mailbox_api").focus()
        await pilot.press("enter", "down", "enter")
        await pilot.pause()
        assert all(greyed(name) for name in ews_only)
        assert not any(greyed(name) for name in graph_only)
        await pilot.press("tab")
        assert app.focused is not None and "ews_url" not in str(app.focused.id)
        assert not screen.draft.changed("exchange.general.ews_url")


async def test_change_notifications_are_set_on_the_general_tab(
    app: MsextApp, demo_profile: Profile
) -> None:
    """R19: with Graph, a plain-http notification URL is refused on its field with the
    model's one line and nothing is saved; an https URL with the receiver's address,
    certificate and key is saved."""
    demo_profile.store.set_value("exchange.general.server_type", "office365")
    demo_profile.store.set_value("exchange.general.mailbox_api", "graph")
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await open_exchange(app, pilot)
        row = screen.query_one("#row-f-exchange-general-notification_url")
        note = str(row.query_one(".note", Static).render())
        assert "Microsoft must reach this HTTPS URL" in note and "msext polls" in note
        await type_into(pilot, "#f-exchange-general-notification_url", "http://msext.example/g")
        await pilot.press("tab")
        message = screen.query_one("#m-exchange-general-notification_url", Static)
        assert str(message.render()) == (
            "! must be an https URL: Microsoft Graph calls https URLs only"
        )
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert saved(demo_profile).exchange.general.notification_url is None
        for name, value in (
            ("notification_url", "https://msext.example.com/graph"),
            ("notification_listen", "0.0.0.0:8443"),
            ("notification_certificate", "/etc/msext/receiver.pem"),
            ("notification_key", "/etc/msext/receiver.key"),
        ):
            await type_into(pilot, f"#f-exchange-general-{name}", value)
        await pilot.press("ctrl+s")
        await pilot.pause()
    general = saved(demo_profile).exchange.general
    assert general.notification_url == "https://msext.example.com/graph"
    assert general.notification_listen == "0.0.0.0:8443"


async def test_outlook_limits_save_and_show_r11(app: MsextApp, demo_profile: Profile) -> None:
    """R03, R11: the Outlook page edits the administrator's limits and says which users have
    their Outlook send actions disabled."""
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter", "enter", "down", "enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, OutlookScreen)
        usage = str(screen.query_one("#outlook-usage").render())
        assert usage.startswith("Installed for 3 users; for 3 of them MS Exchange")
        screen.query_one("#f-outlook-limits-allow_service_calls").focus()
        await pilot.press("space", "ctrl+s")
        await pilot.pause()
    assert saved(demo_profile).outlook.limits.allow_service_calls is True


async def test_q_with_unsaved_changes_asks_as_esc_does(
    app: MsextApp, demo_profile: Profile
) -> None:
    """`q` outside a text field on a page with unsaved changes asks save, discard or
    stay; Stay keeps the page and the change, and nothing quits."""
    before = demo_profile.store.path.read_bytes()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_exchange(app, pilot, "tab-sync")
        await type_into(pilot, INTERVAL, "45")
        screen.query_one("#save").focus()
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, LeaveScreen)
        await pilot.click("#stay")
        await pilot.pause()
        assert app.screen is screen and app.is_running
        assert screen.query_one(INTERVAL, Input).value == "45"
        await pilot.press("q")
        await pilot.pause()
        await pilot.click("#save")
        await pilot.pause()
        assert not app.is_running
    assert saved(demo_profile).exchange.sync.interval_minutes == 45
    assert demo_profile.store.path.read_bytes() != before


async def test_saved_notice_breaks_the_path_between_folders(app: MsextApp) -> None:
    """The 'Saved to' notification folded the settings file's path mid-name at 80x24; it
    now breaks after a '/', each line within the notification's width."""
    from textual.widgets import Checkbox

    from console.paths_shown import NOTICE_WIDTH
    from tests.console.walk import settle

    async with app.run_test(size=(80, 24)) as pilot:
        app.go(OutlookScreen)
        await settle(pilot)
        app.screen.query_one(Checkbox).focus()
        await pilot.press("space", "ctrl+s")
        await settle(pilot)
        message = list(app._notifications)[-1].message
        heading, *lines = message.splitlines()
        assert heading == "Saved to"
        assert "".join(lines) == str(app.profile.store.path)
        assert all(len(line) <= NOTICE_WIDTH for line in lines)
        assert all(line.startswith("/") for line in lines)


POLL = "#f-exchange-sync-psa_poll_seconds"
POLL_MESSAGE = "#m-exchange-sync-psa_poll_seconds"


async def test_a_psa_poll_over_the_api_budget_is_refused_with_its_arithmetic(
    app: MsextApp, demo_profile: Profile
) -> None:
    """Issue 21: with the PSA's REST API, polling every 20 s shows the settings model's
    one-line arithmetic beside the field and saves nothing; 30 s is saved."""
    peer = serve_rest_psa(demo_profile.paths, "api-secret")
    before = demo_profile.store.path.read_bytes()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_exchange(app, pilot, "tab-sync")
        await type_into(pilot, POLL, "20")
        await pilot.press("ctrl+s")
        await pilot.pause()
        message = str(screen.query_one(POLL_MESSAGE, Static).render())
        assert message == (
            "! polling every 20 s costs 6 requests x 180 polls = 1,080 requests an hour,"
            " 10.8% of the PSA API's 10,000 an hour shared by all integrations; msext takes"
            " at most 10%: choose 22 s or more"
        )
        assert demo_profile.store.path.read_bytes() == before
        await type_into(pilot, POLL, "30")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert str(screen.query_one(POLL_MESSAGE, Static).render()) == ""
    peer.stop()
    assert saved(demo_profile).exchange.sync.psa_poll_seconds == 30


async def test_mailbox_notifications_are_turned_off_on_the_sync_tab(
    app: MsextApp, demo_profile: Profile
) -> None:
    """Issue 21, R01: the Synchronization tab's switch turns mailbox notifications off (the
    interval's runs then find mailbox changes), saved with Ctrl+S."""
    async with app.run_test(size=(80, 24)) as pilot:
        await open_exchange(app, pilot, "tab-sync")
        switch = app.screen.query_one("#f-exchange-sync-mailbox_notifications", Switch)
        assert switch.value
        switch.focus()
        await pilot.press("space")
        await pilot.press("ctrl+s")
        await pilot.pause()
    assert saved(demo_profile).exchange.sync.mailbox_notifications is False
