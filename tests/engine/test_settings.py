"""The settings model: every rule a setting can break, the file, the environment, secrets."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from engine.errors import SecretError, SettingsError, UserError
from engine.paths import ProfilePaths
from engine.redaction import MASK, redactor
from engine.settings.model import Settings
from engine.settings.secrets import resolve_secret, write_secret_file
from engine.settings.store import SettingsStore, validate

ENABLED = {
    "enabled": True,
    "ews_url": "https://mail.contoso.example/EWS/Exchange.asmx",
    "sync_account": "svc-msext@contoso.example",
    "secret": "env:MSEXT_SECRET_TEST",
}


@pytest.fixture
def store() -> SettingsStore:
    return SettingsStore(ProfilePaths.for_profile("t"), environ={})


def problems(document: dict) -> dict[str, str]:
    with pytest.raises(SettingsError) as caught:
        validate(document, origin="test")
    return caught.value.problems


def test_interval_below_ten_minutes_is_refused_with_the_rule() -> None:
    """R01: an interval of 5 is refused with the 10-minute message; 10 is accepted."""
    found = problems({"exchange": {"sync": {"interval_minutes": 5}}})
    assert found == {
        "exchange.sync.interval_minutes": "sync interval must be at least 10 minutes (R01)"
    }
    assert (
        validate(
            {"exchange": {"sync": {"interval_minutes": 10}}}, "t"
        ).exchange.sync.interval_minutes
        == 10
    )


@pytest.mark.parametrize(
    ("general", "key", "words"),
    [
        ({**ENABLED, "ews_url": None}, "exchange.general.ews_url", "EWS URL"),
        ({**ENABLED, "sync_account": ""}, "exchange.general.sync_account", "R14"),
        ({**ENABLED, "secret": None}, "exchange.general.secret", "R14"),
        ({**ENABLED, "impersonation": False}, "exchange.general.impersonation", "R14"),
        ({**ENABLED, "auth_type": "oauth2"}, "exchange.general.oauth_client_id", "tenant id"),
        ({"ews_url": "ftp://mail"}, "exchange.general.ews_url", "http(s) URL"),
        ({"autodiscover_email": "not-an-address"}, "exchange.general.autodiscover_email", "e-mail"),
        (
            {"error_recipients": ["ok@x.example", "bad"]},
            "exchange.general.error_recipients.1",
            "e-mail",
        ),
        ({"secret": "hunter2"}, "exchange.general.secret", "env:MSEXT_SECRET_NAME or file:NAME"),
        ({"timeout_seconds": 1}, "exchange.general.timeout_seconds", "greater than or equal"),
    ],
)
def test_general_tab_rules(general: dict, key: str, words: str) -> None:
    """R14: an enabled extension needs an endpoint, the synchronization account, its secret and
    impersonation; malformed URLs and e-mail addresses are refused on their own field."""
    found = problems({"exchange": {"general": {k: v for k, v in general.items() if v is not None}}})
    assert key in found and words in found[key], found


GRAPH = {"mailbox_api": "graph", "oauth_tenant_id": "contoso", "oauth_client_id": "app-1"}


@pytest.mark.parametrize(
    ("document", "key", "words"),
    [
        ({"general": GRAPH}, "exchange.general.mailbox_api", "Office 365 mailboxes only"),
        (
            {"general": {**ENABLED, **GRAPH, "server_type": "office365", "oauth_client_id": None}},
            "exchange.general.oauth_client_id",
            "tenant id and the client id",
        ),
        (
            {"general": {**GRAPH, "server_type": "office365"}, "sync": {"todo_folder": "tasks"}},
            "exchange.sync.todo_folder",
            "Tasks folder is reached through EWS only",
        ),
    ],
)
def test_graph_rules(document: dict, key: str, words: str) -> None:
    """R19: Microsoft Graph reaches Office 365 only, signs in as an app registration (tenant
    and client id), and keeps to-dos in the calendar."""
    general = {k: v for k, v in document["general"].items() if v is not None}
    found = problems({"exchange": {**document, "general": general}})
    assert key in found and words in found[key], found


def test_graph_needs_no_ews_url() -> None:
    """R19: an enabled Graph profile needs no EWS URL or autodiscover address."""
    graph = {**ENABLED, **GRAPH, "server_type": "office365", "ews_url": None}
    document = {"exchange": {"general": {k: v for k, v in graph.items() if v is not None}}}
    assert validate(document, origin="test").exchange.general.mailbox_api == "graph"


RECEIVER = {
    "notification_url": "https://msext.contoso.example/graph",
    "notification_listen": "0.0.0.0:8443",
    "notification_certificate": "/etc/msext/receiver.pem",
    "notification_key": "/etc/msext/receiver.key",
}


@pytest.mark.parametrize(
    ("general", "key", "words"),
    [
        (
            {**RECEIVER, "notification_url": "http://msext.contoso.example/graph"},
            "exchange.general.notification_url",
            "must be an https URL",
        ),
        (
            {**RECEIVER, "notification_url": "http://127.0.0.1:8443/graph"},
            "exchange.general.notification_url",
            "must be an https URL",
        ),
        (
            {**RECEIVER, "notification_listen": "8443"},
            "exchange.general.notification_listen",
            "host:port",
        ),
        (
            {**RECEIVER, "notification_listen": "0.0.0.0:99999"},
            "exchange.general.notification_listen",
            "host:port",
        ),
        (
            {**RECEIVER, "notification_key": "receiver.key"},
            "exchange.general.notification_key",
            "absolute path",
        ),
        (
            {**RECEIVER, "notification_certificate": None},
            "exchange.general.notification_certificate",
            "clear the notification URL to poll",
        ),
    ],
)
def test_change_notifications_need_https_and_a_receiver(
    general: dict, key: str, words: str
) -> None:
    """Graph calls https URLs only, loopback included; a notification URL needs the receiver's
    address, certificate and key (one line on the field to fix)."""
    found = problems({"exchange": {"general": {k: v for k, v in general.items() if v is not None}}})
    assert key in found and words in found[key], found
    assert "\n" not in found[key]


def test_without_a_notification_url_the_receiver_fields_are_optional() -> None:
    """Empty means polling: nothing else is asked for, and the receiver's fields may wait."""
    general = validate({}, origin="test").exchange.general
    assert general.notification_url is None
    partial = {k: v for k, v in RECEIVER.items() if k != "notification_url"}
    validate({"exchange": {"general": partial}}, origin="test")
    assert validate(
        {"exchange": {"general": RECEIVER}}, origin="test"
    ).exchange.general.notification_url


@pytest.mark.parametrize(
    ("section", "field"),
    [
        ("exchange.general", "ews_url"),
        ("exchange.general", "oauth_token_url"),
        ("exchange.general", "graph_url"),
        ("psa", "rest_url"),
    ],
)
def test_plain_http_carries_credentials_only_to_this_machine(section: str, field: str) -> None:
    """Issue 17.8: the URLs that receive a password, client secret, token or API secret
    are refused over plain http to another host, and accepted over http to loopback."""
    *parents, leaf = section.split(".")

    def document(url: str) -> dict:
        nested: dict = {leaf: {field: url}}
        for parent in reversed(parents):
            nested = {parent: nested}
        return nested

    found = problems(document("http://mail.contoso.example/path"))
    assert "must be https" in found[f"{section}.{field}"], found
    for local in ("http://127.0.0.1:8080/path", "http://localhost/path", "http://[::1]:9/path"):
        validate(document(local), origin="test")
    validate(document("https://mail.contoso.example/path"), origin="test")


def test_a_typed_in_password_is_never_echoed() -> None:
    """Invariant 6: the message for a secret that is not a reference does not repeat it."""
    found = problems({"exchange": {"general": {"secret": "Sup3r-Secret!"}}})
    assert "Sup3r-Secret!" not in str(found)


@pytest.mark.parametrize(
    ("document", "key"),
    [
        ({"exchange": {"sync": {"days_back": -1}}}, "exchange.sync.days_back"),
        ({"exchange": {"sync": {"days_ahead": 0}}}, "exchange.sync.days_ahead"),
        ({"exchange": {"sync": {"max_delete_percent": 0}}}, "exchange.sync.max_delete_percent"),
        ({"exchange": {"sync": {"workers": 11}}}, "exchange.sync.workers"),
        (
            {"exchange": {"sync": {"import_appointments": "some"}}},
            "exchange.sync.import_appointments",
        ),
        ({"exchange": {"sync": {"contact_scope": "friends"}}}, "exchange.sync.contact_scope"),
        ({"exchange": {"sync": {"interval_minutes": 2000}}}, "exchange.sync.interval_minutes"),
        ({"exchange": {"resources": {"7": {"mailbox": "x"}}}}, "exchange.resources.7.mailbox"),
        (
            {"outlook": {"limits": {"min_interval_minutes": 0}}},
            "outlook.limits.min_interval_minutes",
        ),
        ({"users": {"3": {"outlook": {"contact_scope": "x"}}}}, "users.3.outlook.contact_scope"),
        ({"psa": {"kind": "soap"}}, "psa.kind"),
        ({"sandbox": {"port": 70000}}, "sandbox.port"),
        ({"exchange": {"sync": {"bogus": 1}}}, "exchange.sync.bogus"),
    ],
)
def test_out_of_range_values_and_unknown_keys_are_refused(document: dict, key: str) -> None:
    """Bad values fail on their own key; an unknown key is reported, never ignored."""
    assert key in problems(document)


def test_one_mailbox_for_two_resources_is_refused() -> None:
    """The Resources tab maps each mailbox to one resource only."""
    found = problems(
        {
            "exchange": {
                "resources": {"1": {"mailbox": "a@x.example"}, "2": {"mailbox": "A@x.example"}}
            }
        }
    )
    assert found["exchange.resources.2.mailbox"].startswith(
        "mailbox a@x.example is used by resource 1 and resource 2"
    )


def test_a_mailbox_that_is_another_resources_psa_email_is_refused() -> None:
    """Invariant 2: with the PSA's resources known, a mailbox set to another resource's PSA
    e-mail (that resource having no mailbox of its own) is refused, naming both."""
    document = {"exchange": {"resources": {"2": {"mailbox": "ava@x.example"}}}}
    people = {1: ("Ava Fischer", "Ava@x.example"), 2: ("Ben Brooks", "ben@x.example")}
    validate(document, origin="test")
    with pytest.raises(SettingsError) as refused:
        validate(document, origin="test", people=people)
    assert refused.value.problems["exchange.resources.2.mailbox"].startswith(
        "mailbox ava@x.example is used by Ava Fischer (resource 1) and Ben Brooks (resource 2)"
    )


def test_set_value_saves_atomically_with_a_backup(store: SettingsStore) -> None:
    """A save writes mode 0600, keeps the previous file as .bak and leaves no temporary file
    (the lock file that serializes saves stays)."""
    store.set_value("exchange.sync.interval_minutes", "15")
    first = store.path.read_text()
    store.set_value("exchange.sync.interval_minutes", "20")
    assert store.backup_path.read_text() == first
    assert "interval_minutes = 20" in store.path.read_text()
    for path in (store.path, store.backup_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in store.path.parent.iterdir()) == [
        "config.toml",
        "config.toml.bak",
        "config.toml.lock",
        "secrets",
    ]


def test_a_refused_value_leaves_the_file_untouched(store: SettingsStore) -> None:
    """R01: nothing is saved when the new value breaks a rule."""
    store.set_value("exchange.sync.interval_minutes", "15")
    before = store.path.read_bytes()
    with pytest.raises(SettingsError):
        store.set_value("exchange.sync.interval_minutes", "5")
    assert store.path.read_bytes() == before


def test_a_crash_during_save_keeps_the_old_file(
    store: SettingsStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rename is the commit: a failure before it leaves the previous file whole."""
    store.set_value("exchange.sync.interval_minutes", "15")
    before = store.path.read_bytes()

    def broken_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        store.set_value("exchange.sync.interval_minutes", "25")
    assert store.path.read_bytes() == before
    assert not list(store.path.parent.glob(".*.tmp"))


def test_list_values_and_dotted_keys(store: SettingsStore) -> None:
    """Lists take commas or a TOML array; resources and users are keyed by resource id."""
    store.set_value("exchange.general.error_recipients", "a@x.example, B@y.example")
    store.set_value("exchange.resources.12.mailbox", "Al@x.example")
    settings = store.load()
    assert settings.exchange.general.error_recipients == ["a@x.example", "b@y.example"]
    assert settings.resource(12).mailbox == "al@x.example"
    store.set_value("exchange.general.error_recipients", '["c@z.example"]')
    assert store.load().exchange.general.error_recipients == ["c@z.example"]
    with pytest.raises(UserError, match="keyed by a PSA resource id"):
        store.set_value("exchange.resources.alice.enabled", "true")
    with pytest.raises(UserError, match="is a section"):
        store.set_value("exchange.sync", "1")


def test_unset_returns_a_key_to_its_default(store: SettingsStore) -> None:
    store.set_value("exchange.sync.interval_minutes", "45")
    assert store.unset_value("exchange.sync.interval_minutes").exchange.sync.interval_minutes == 30


def test_environment_overrides_the_file_and_is_never_saved() -> None:
    """MSEXT_A__B overrides a.b for the process; a save writes only the file's own values."""
    paths = ProfilePaths.for_profile("t")
    store = SettingsStore(
        paths,
        environ={
            "MSEXT_EXCHANGE__SYNC__INTERVAL_MINUTES": "45",
            "MSEXT_EXCHANGE__RESOURCES__12__ENABLED": "true",
        },
    )
    store.set_value("exchange.sync.interval_minutes", "15")
    assert store.load().exchange.sync.interval_minutes == 45
    assert store.load().resource(12).enabled is True
    assert store.load_saved().exchange.sync.interval_minutes == 15
    assert "45" not in store.path.read_text()


def test_an_environment_override_that_breaks_a_rule_is_reported() -> None:
    """R01 holds for overrides too."""
    store = SettingsStore(
        ProfilePaths.for_profile("t"), environ={"MSEXT_EXCHANGE__SYNC__INTERVAL_MINUTES": "3"}
    )
    with pytest.raises(SettingsError, match="at least 10 minutes"):
        store.load()


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"[exchange\n", "not valid TOML"),
        (b"\xff\xfe[exchange]", "not UTF-8"),
        (b"x" * (1024 * 1024 + 1), "larger than 1 MiB"),
    ],
)
def test_unreadable_files_get_one_clear_message(
    store: SettingsStore, content: bytes, words: str
) -> None:
    store.paths.ensure()
    store.path.write_bytes(content)
    with pytest.raises(UserError, match=words):
        store.load()


def test_secrets_resolve_from_env_and_private_files_only(tmp_path: Path) -> None:
    """Invariant 6: a secret file readable by others is refused with the chmod to run."""
    paths = ProfilePaths.for_profile("t")
    assert (
        resolve_secret("env:MSEXT_SECRET_PW", paths, environ={"MSEXT_SECRET_PW": "from-env"})
        == "from-env"
    )
    with pytest.raises(SecretError, match="is not set"):
        resolve_secret("env:MSEXT_SECRET_PW", paths, environ={})
    ref = write_secret_file(paths, "ews", "from-file")
    assert stat.S_IMODE((paths.secrets_dir / "ews").stat().st_mode) == 0o600
    assert resolve_secret(ref, paths) == "from-file"
    (paths.secrets_dir / "ews").chmod(0o644)
    with pytest.raises(SecretError, match="chmod 600"):
        resolve_secret(ref, paths)


def test_resolved_secrets_are_redacted_everywhere() -> None:
    """Invariant 6: once resolved, a secret is masked in any text passed through the redactor,
    and the settings' repr holds only the reference."""
    paths = ProfilePaths.for_profile("t")
    value = resolve_secret(
        "env:MSEXT_SECRET_PW", paths, environ={"MSEXT_SECRET_PW": "p4ss-w0rd-marker"}
    )
    assert redactor.redact(f"login with {value} failed") == f"login with {MASK} failed"
    settings = Settings.model_validate({"exchange": {"general": {"secret": "env:MSEXT_SECRET_PW"}}})
    assert "p4ss-w0rd-marker" not in repr(settings)


def test_risky_settings_are_warnings_not_errors() -> None:
    """R14: a domain administrator account is discouraged; TLS off is flagged."""
    settings = Settings.model_validate(
        {"exchange": {"general": {"sync_account": "CONTOSO\\Administrator", "verify_tls": False}}}
    )
    keys = [key for key, _ in settings.warnings()]
    assert keys == ["exchange.general.sync_account", "exchange.general.verify_tls"]
