"""The Outlook-vs-Exchange matrix, evaluated per user, and the conflicts it finds."""

from __future__ import annotations

import pytest

from engine.exchange.capabilities import (
    ADD_IN_ACTIONS,
    CONTACT_REMEDY,
    MATRIX,
    Cell,
    Handler,
    UserRef,
    evaluate,
    exchange_scope,
)
from engine.psa.model import RecordKind
from engine.settings.model import ContactScope, ImportMode, Settings

USER = UserRef(7, "Ava Fischer", "ava@contoso.example")
ENABLED = {
    "general": {
        "enabled": True,
        "ews_url": "https://mail.contoso.example/EWS/Exchange.asmx",
        "sync_account": "svc@contoso.example",
        "secret": "env:MSEXT_SECRET_X",
    },
    "resources": {"7": {"enabled": True}},
}


def settings(
    exchange: dict | None = None, outlook_user: dict | None = None, **extra: dict
) -> Settings:
    document: dict = {"exchange": exchange if exchange is not None else ENABLED, **extra}
    if outlook_user is not None:
        document["users"] = {"7": {"outlook": outlook_user}}
    return Settings.model_validate(document)


def codes(found: Settings) -> list[str]:
    return [conflict.code for conflict in evaluate(found, USER).conflicts]


def row(found: Settings, key: str):
    return next(state for state in evaluate(found, USER).rows if state.row.key == key)


def test_matrix_has_every_row_of_the_seed_table() -> None:
    """R20: every row of the seed's Outlook-vs-Exchange table, in its sections."""
    assert [r.key for r in MATRIX] == [
        "interval",
        "calendar_from_psa",
        "when",
        "item_types",
        "appointments_from_psa",
        "appointments_to_psa",
        "private_appointments",
        "todos",
        "service_calls",
        "contacts_receiving",
        "contacts_sending",
        "series",
        "appointments_sending",
        "installation",
        "works_with",
    ]
    assert {r.section for r in MATRIX} == {
        "Synchronization",
        "Contacts",
        "Appointments",
        "Installation and setup",
    }


def test_add_in_actions_are_outlook_only() -> None:
    """R20: the fifteen add-in actions exist only in the Outlook extension."""
    assert len(ADD_IN_ACTIONS) == 15
    data = evaluate(settings(outlook_user={"installed": True}), USER).as_dict()
    assert {a["outlook"] for a in data["add_in_actions"]} == {"on"}
    assert {a["exchange"] for a in data["add_in_actions"]} == {"not available"}


def test_where_each_module_works() -> None:
    """R20: Outlook only on its workstation; Exchange with every client incl. OWA and phones."""
    state = row(settings(), "works_with")
    assert "workstation" in state.outlook_detail
    assert "OWA" in state.exchange_detail and "OWA" in state.row.exchange


def test_interval_rows_show_who_sets_it() -> None:
    """R01, R02: the administrator's interval for Exchange, the user's for Outlook, and when each
    module runs."""
    found = settings(outlook_user={"installed": True, "interval_minutes": 20})
    assert row(found, "interval").exchange_detail == "every 30 minutes, for all users"
    assert row(found, "interval").outlook_detail == "every 20 minutes, set by the user"
    assert "Outlook is open" in row(found, "when").row.outlook
    assert "no open Outlook" in row(found, "when").row.exchange


def test_exchange_cells_follow_the_synchronization_tab() -> None:
    """R04, R06, R09, R15: each Exchange row reflects the tab's options for an enabled user."""
    found = settings(
        {**ENABLED, "sync": {"export_todos": False, "import_appointments": "without_details"}}
    )
    assert row(found, "appointments_from_psa").exchange is Cell.ON
    assert row(found, "todos").exchange is Cell.OFF
    assert row(found, "service_calls").exchange_detail == "with location"
    assert row(found, "appointments_to_psa").exchange_detail == "all appointments, without details"


def test_private_appointments_row() -> None:
    """R05: Exchange transfers private appointments only as "Appointment" with date and time."""
    state = row(settings(), "private_appointments")
    assert state.exchange is Cell.ON
    assert state.exchange_detail == 'as "Appointment", date and time only'


def test_series_row() -> None:
    """R10: series reach the PSA without a series icon through Exchange, with one through
    Outlook."""
    found = settings(
        {**ENABLED, "general": {**ENABLED["general"], "enabled": False}},
        outlook_user={"installed": True},
    )
    state = row(found, "series")
    assert (
        "without a series icon" in state.row.exchange and "with a series icon" in state.row.outlook
    )
    assert state.outlook is Cell.ON


def test_contacts_never_sent_by_exchange() -> None:
    """R07: sending contacts to the PSA is not available in the Exchange extension."""
    state = row(settings(), "contacts_sending")
    assert state.exchange is Cell.NOT_AVAILABLE


def test_contact_scope_row() -> None:
    """R08: the contact scope of each module is shown."""
    found = settings(
        {**ENABLED, "sync": {"contact_scope": "all"}},
        outlook_user={"installed": True, "contact_integration": True, "contact_scope": "owned"},
    )
    assert row(found, "contacts_receiving").exchange_detail == "scope all"
    assert row(found, "contacts_receiving").outlook_detail.endswith("scope owned")


def test_setup_rows_name_the_admin_paths() -> None:
    """R13, R14: the Exchange page's admin path and the synchronization account."""
    state = row(settings(), "installation")
    assert (
        "Admin > Extensions & Integrations > Microsoft Extensions > MS Exchange"
        in state.row.exchange
    )
    assert "synchronization account" in state.row.exchange


def test_contacts_synced_by_both_modules_is_a_conflict_with_the_seed_remedy() -> None:
    """R12: Outlook contact integration plus Exchange contact sharing is a conflict, and its
    remedy is the seed's two steps."""
    found = settings(outlook_user={"installed": True, "contact_integration": True})
    comparison = evaluate(found, USER)
    assert comparison.handlers[RecordKind.CONTACT] is Handler.BOTH
    conflict = comparison.conflicts[0]
    assert conflict.code == "contacts_both" and conflict.remedy == CONTACT_REMEDY
    assert "Enable contact integration" in conflict.remedy[0]
    assert '"Share contacts for which the resource is account manager or opportunity owner"' in (
        conflict.remedy[1].replace('clear "Share', '"Share')
    )


def test_clearing_share_contacts_removes_the_conflict() -> None:
    """R12: the remedy works: with sharing cleared, Outlook alone handles contacts."""
    found = settings(
        {**ENABLED, "sync": {"share_contacts": False}},
        outlook_user={"installed": True, "contact_integration": True},
    )
    assert "contacts_both" not in codes(found)
    assert evaluate(found, USER).handlers[RecordKind.CONTACT] is Handler.OUTLOOK


def test_outlook_sending_disabled_when_exchange_enabled() -> None:
    """R11: with Exchange enabled, Outlook's "send selected contacts/appointments" is disabled."""
    found = settings(outlook_user={"installed": True})
    assert "outlook_send_disabled" in codes(found)
    assert row(found, "contacts_sending").outlook is Cell.DISABLED
    assert row(found, "appointments_sending").outlook is Cell.DISABLED
    disabled = settings({"resources": {"7": {"enabled": False}}}, outlook_user={"installed": True})
    assert "outlook_send_disabled" not in codes(disabled)
    assert row(disabled, "appointments_sending").outlook is Cell.ON


@pytest.mark.parametrize(
    ("limit", "preference", "code"),
    [
        ("allow_appointments", "appointments", "limit_outlook_appointment"),
        ("allow_todos", "todos", "limit_outlook_todo"),
        ("allow_service_calls", "service_calls", "limit_outlook_service_call"),
        ("allow_contacts", "contact_integration", "limit_outlook_contact"),
    ],
)
def test_outlook_item_type_forbidden_by_limits(limit: str, preference: str, code: str) -> None:
    """R03: an item type the user asks for but the administrator's Outlook limits forbid."""
    found = settings(
        outlook_user={"installed": True, preference: True}, outlook={"limits": {limit: False}}
    )
    assert code in codes(found)


@pytest.mark.parametrize(
    ("option", "kind"),
    [
        ("export_appointments", "appointments"),
        ("export_todos", "todos"),
        ("export_service_calls", "service_calls"),
        ("share_contacts", "contacts"),
    ],
)
def test_exchange_item_type_forbidden_by_the_tab(option: str, kind: str) -> None:
    """R03: a user asking the Exchange extension for a type the tab does not export."""
    found = Settings.model_validate(
        {
            "exchange": {**ENABLED, "sync": {option: False}},
            "users": {"7": {"exchange": {kind: True}}},
        }
    )
    assert any(code.startswith("limit_exchange_") for code in codes(found))
    assert (
        row(
            found,
            {
                "appointments": "appointments_from_psa",
                "todos": "todos",
                "service_calls": "service_calls",
                "contacts": "contacts_receiving",
            }[kind],
        ).exchange
        is Cell.BLOCKED
    )


def test_no_choice_means_no_limit_conflict() -> None:
    """R03: a user who chose nothing gets what is allowed, and nothing is reported blocked."""
    found = settings(outlook_user={"installed": True}, outlook={"limits": {"allow_todos": False}})
    assert not [code for code in codes(found) if code.startswith("limit_")]
    assert row(found, "todos").outlook is Cell.OFF


def test_outlook_scope_and_interval_limits() -> None:
    """R03, R08: scope wider than allowed and interval below the minimum are reported."""
    found = settings(
        outlook_user={
            "installed": True,
            "contact_integration": True,
            "contact_scope": "all",
            "interval_minutes": 5,
        },
        outlook={"limits": {"max_contact_scope": "owned", "min_interval_minutes": 15}},
    )
    assert {"limit_outlook_contact_scope", "limit_outlook_interval"} <= set(codes(found))
    assert row(found, "interval").outlook_detail == "every 15 minutes, set by the user"


def test_exchange_scope_combines_tab_and_user_choices() -> None:
    """R03: the engine syncs what the tab exports minus what the user turned off."""
    found = Settings.model_validate(
        {
            "exchange": {**ENABLED, "sync": {"export_service_calls": False}},
            "users": {"7": {"exchange": {"todos": False, "import_appointments": False}}},
        }
    )
    scope = exchange_scope(found, 7)
    assert scope.kinds == {RecordKind.APPOINTMENT, RecordKind.CONTACT}
    assert scope.import_mode is ImportMode.OFF
    assert scope.contact_scope is ContactScope.OWNED


def test_json_shape_is_stable() -> None:
    """``msext compare --json`` keys."""
    data = evaluate(settings(), USER).as_dict()
    assert set(data) == {
        "user",
        "exchange_enabled",
        "outlook_installed",
        "rows",
        "add_in_actions",
        "handlers",
        "conflicts",
    }
    assert set(data["rows"][0]) == {"key", "section", "label", "rules", "outlook", "exchange"}
