"""The whole configuration of one profile, as pydantic models.

The MS Exchange section mirrors the PSA's page (Admin > Extensions & Integrations >
Microsoft Extensions > MS Exchange) and its three tabs: General, Synchronization,
Resources. Every rule of the seed that a setting can break is a validation error whose
message names the rule (``R01`` ...); the console shows these messages word for word.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from pydantic import Field, ValidationInfo, field_validator, model_validator

from engine.net.limits import DEFAULT_MAX_RESPONSE_MIB, MIB, HttpLimits
from engine.psa.budget import poll_budget_refusal
from engine.settings.adsync import AdSyncSettings
from engine.settings.fields import (
    MAX_RECIPIENTS,
    MAX_TEXT_LENGTH,
    AbsolutePath,
    CredentialUrl,
    Email,
    FieldRuleError,
    HttpsUrl,
    ListenAddress,
    SecretRef,
    Section,
    Text,
    Url,
)
from engine.settings.teams import TeamsSettings

MIN_SYNC_INTERVAL_MINUTES = 10
"""R01: the seed's minimum; the interval is never below it."""

_DISCOURAGED_ACCOUNTS = ("administrator", "admin", "domain admins")


class AuthType(StrEnum):
    NTLM = "ntlm"
    BASIC = "basic"
    OAUTH2 = "oauth2"


class ServerType(StrEnum):
    ON_PREMISES = "on_premises"
    HOSTED = "hosted"
    OFFICE365 = "office365"


class MailboxApi(StrEnum):
    """How mailboxes are reached: EWS (on-premises and Office 365) or Microsoft Graph
    (Office 365 only, where EWS is being retired) (R19)."""

    EWS = "ews"
    GRAPH = "graph"


CALENDARS_PERMISSION = "Calendars.ReadWrite"
CONTACTS_PERMISSION = "Contacts.ReadWrite"
MAIL_SEND_PERMISSION = "Mail.Send"
GRAPH_PERMISSIONS = (CALENDARS_PERMISSION, CONTACTS_PERMISSION, MAIL_SEND_PERMISSION)
"""The application permissions (admin consent) the app registration needs for Graph:
calendars and contacts for the sync, Mail.Send for the error notifications (R18)."""


class ExchangeVersion(StrEnum):
    AUTO = "auto"
    EXCHANGE_2013 = "2013"
    EXCHANGE_2013_SP1 = "2013_sp1"
    EXCHANGE_2016 = "2016"
    EXCHANGE_2019 = "2019"


class ContactScope(StrEnum):
    """R08: which PSA contacts a user receives."""

    OWNED = "owned"
    """Contacts whose company the resource manages, or with an opportunity it owns."""
    ALL = "all"


class ImportMode(StrEnum):
    """R06: how mailbox appointments reach the PSA."""

    OFF = "off"
    FULL = "full"
    WITHOUT_DETAILS = "without_details"


class TodoFolder(StrEnum):
    CALENDAR = "calendar"
    """R15: a to-do becomes a mailbox appointment (the vendor's behaviour)."""
    TASKS = "tasks"


class PsaKind(StrEnum):
    EMBEDDED = "embedded"
    REST = "rest"


class ExchangeGeneral(Section):
    """The General tab: where Exchange is and how the synchronization account logs in."""

    enabled: bool = False
    server_type: ServerType = ServerType.ON_PREMISES
    mailbox_api: MailboxApi = MailboxApi.EWS
    ews_url: CredentialUrl | None = None
    autodiscover_email: Email | None = None
    sync_account: Text = ""
    secret: SecretRef | None = None
    auth_type: AuthType = AuthType.NTLM
    exchange_version: ExchangeVersion = ExchangeVersion.AUTO
    impersonation: bool = True
    """"Use these credentials for every user": the account impersonates each mailbox."""
    verify_tls: bool = True
    timeout_seconds: int = Field(default=30, ge=5, le=300)
    """Each request's overall deadline, and the longest wait for a throttling server."""
    max_response_mib: int = Field(default=DEFAULT_MAX_RESPONSE_MIB, ge=1, le=1024)
    """The most msext reads of one answer; a larger one fails its request."""
    oauth_tenant_id: Text | None = None
    oauth_client_id: Text | None = None
    oauth_token_url: CredentialUrl | None = None
    """The app registration's token endpoint; empty means Microsoft's for the tenant id."""
    graph_url: CredentialUrl = "https://graph.microsoft.com/v1.0"
    """Microsoft Graph's base URL (another one for national clouds)."""
    notification_url: HttpsUrl | None = None
    """Where Microsoft Graph sends change notifications of the users' calendars: an https
    URL Microsoft reaches from the internet, forwarded to the receiver below. Empty: no
    notifications, the mailboxes are polled."""
    notification_listen: ListenAddress | None = None
    """Where msext's notification receiver listens (host:port)."""
    notification_certificate: AbsolutePath | None = None
    """The PEM certificate (with its chain) the receiver serves."""
    notification_key: AbsolutePath | None = None
    """The PEM private key of that certificate."""
    error_recipients: list[Email] = Field(default_factory=list, max_length=MAX_RECIPIENTS)

    @field_validator("sync_account")
    @classmethod
    def _strip_account(cls, value: str) -> str:
        return value.strip()

    @model_validator(mode="after")
    def _graph_for_office365(self) -> ExchangeGeneral:
        if self.mailbox_api is MailboxApi.GRAPH and self.server_type is not ServerType.OFFICE365:
            raise FieldRuleError(
                "mailbox_api",
                "Microsoft Graph reaches Office 365 mailboxes only; on-premises and hosted"
                " Exchange use EWS (R19)",
            )
        return self

    @model_validator(mode="after")
    def _receiver_for_notifications(self) -> ExchangeGeneral:
        if self.notification_url is None:
            return self
        for name in ("notification_listen", "notification_certificate", "notification_key"):
            if not getattr(self, name):
                raise FieldRuleError(
                    name,
                    "change notifications need where the receiver listens (host:port), its"
                    " TLS certificate and its key; or clear the notification URL to poll",
                )
        return self

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> ExchangeGeneral:
        if not self.enabled:
            return self
        if not self.sync_account:
            raise FieldRuleError(
                "sync_account", "set the synchronization account to enable sync (R14)"
            )
        if self.secret is None:
            raise FieldRuleError(
                "secret", "set the secret reference of the synchronization account (R14)"
            )
        if not self.impersonation:
            raise FieldRuleError(
                "impersonation",
                "the synchronization account must act for every user through impersonation"
                " (R14); per-user credentials are not supported",
            )
        if self.uses_oauth and not (self.oauth_tenant_id and self.oauth_client_id):
            raise FieldRuleError(
                "oauth_client_id",
                "OAuth2 needs the tenant id and the client id of the app registration",
            )
        return self

    @property
    def uses_oauth(self) -> bool:
        """Graph always signs in as the app registration (client credentials)."""
        return self.auth_type is AuthType.OAUTH2 or self.mailbox_api is MailboxApi.GRAPH

    def http_limits(self) -> HttpLimits:
        return HttpLimits(
            deadline_seconds=self.timeout_seconds,
            max_response_bytes=self.max_response_mib * MIB,
            verify_tls=self.verify_tls,
        )

    def token_url(self) -> str:
        tenant = self.oauth_tenant_id or "common"
        return (
            self.oauth_token_url or f"https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
        )

    def warnings(self) -> list[tuple[str, str]]:
        """Settings that are allowed but risky, as (key, message)."""
        found: list[tuple[str, str]] = []
        if self.sync_account.lower().split("\\")[-1].split("@")[0] in _DISCOURAGED_ACCOUNTS:
            found.append(
                (
                    "exchange.general.sync_account",
                    "use a dedicated synchronization account, not a domain administrator (R14)",
                )
            )
        if not self.verify_tls:
            found.append(
                (
                    "exchange.general.verify_tls",
                    "TLS verification is off: the server's identity is not checked",
                )
            )
        return found


class ExchangeSync(Section):
    """The Synchronization tab."""

    interval_minutes: int = 30
    export_appointments: bool = True
    export_todos: bool = True
    export_service_calls: bool = True
    share_contacts: bool = True
    """"Share contacts for which the resource is account manager or opportunity owner"."""
    contact_scope: ContactScope = ContactScope.OWNED
    todo_folder: TodoFolder = TodoFolder.CALENDAR
    import_appointments: ImportMode = ImportMode.FULL
    days_back: int = Field(default=30, ge=0, le=3650)
    days_ahead: int = Field(default=365, ge=1, le=3650)
    max_delete_percent: int = Field(default=50, ge=1, le=100)
    """Invariant 4: a run that would delete more than this share of a mailbox's items halts."""
    workers: int = Field(default=4, ge=1, le=10)
    user_time_limit_seconds: int = Field(default=900, ge=5, le=86400)
    """How long one user's part of a run may take; past it the user stops (what was done
    is kept), is reported deferred, and the run goes on with the others."""
    psa_poll_seconds: int = Field(default=60, ge=0, le=3600)
    """How often the daemon asks the PSA what changed, to sync the users it names at once
    (0: never; the interval's full runs still come, R01). Over the REST API it is refused
    where it would take more than msext's share of the API's hourly budget."""
    mailbox_notifications: bool = True
    """Whether the daemon asks Exchange to report mailbox changes as they happen (EWS
    streaming notifications; over Graph, change notifications where a notification URL is
    set), to sync the user at once. Off: the interval's full runs find them (R01)."""

    @field_validator("interval_minutes")
    @classmethod
    def _interval_at_least_minimum(cls, value: int) -> int:
        if value < MIN_SYNC_INTERVAL_MINUTES:
            raise ValueError(
                f"sync interval must be at least {MIN_SYNC_INTERVAL_MINUTES} minutes (R01)"
            )
        if value > 24 * 60:
            raise ValueError("sync interval must be at most 1440 minutes (one day)")
        return value


class ResourceSetting(Section):
    """The Resources tab: one PSA resource."""

    enabled: bool = False
    mailbox: Email | None = None
    """The mailbox address; empty means the resource's e-mail address in the PSA."""


PSA_PEOPLE = "psa_people"
"""Validation context key: resource id -> (name, PSA e-mail) of the PSA's resources."""
Person = tuple[str, str]


def shared_mailboxes(
    overrides: Mapping[int, str | None], people: Mapping[int, Person]
) -> list[tuple[str, int, int]]:
    """(address, first resource, second resource) for each mailbox two resources would use:
    their explicit mailbox, or else their PSA e-mail."""
    holders: dict[str, int] = {}
    shared = []
    for resource_id in sorted(set(overrides) | set(people)):
        address = overrides.get(resource_id) or people.get(resource_id, ("", ""))[1]
        address = address.strip().lower()
        if not address:
            continue
        if address in holders:
            shared.append((address, holders[address], resource_id))
        else:
            holders[address] = resource_id
    return shared


def shared_message(address: str, first: int, second: int, people: Mapping[int, Person]) -> str:
    def who(resource_id: int) -> str:
        name = people.get(resource_id, ("", ""))[0]
        return f"{name} (resource {resource_id})" if name else f"resource {resource_id}"

    return (
        f"mailbox {address} is used by {who(first)} and {who(second)}: each resource needs a"
        " mailbox of its own (Resources tab, or exchange.resources.N.mailbox)"
    )


class ExchangeSettings(Section):
    general: ExchangeGeneral = Field(default_factory=ExchangeGeneral)
    sync: ExchangeSync = Field(default_factory=ExchangeSync)
    resources: dict[int, ResourceSetting] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _mailboxes_unique(self, info: ValidationInfo) -> ExchangeSettings:
        """One mailbox per resource: a resource whose mailbox is left empty uses its PSA
        e-mail, which the validation context may give (``PSA_PEOPLE``)."""
        people: Mapping[int, Person] = (info.context or {}).get(PSA_PEOPLE, {})
        overrides = {key: value.mailbox for key, value in self.resources.items()}
        for address, first, second in shared_mailboxes(overrides, people):
            blamed = second if overrides.get(second) else first
            raise FieldRuleError(
                f"resources.{blamed}.mailbox", shared_message(address, first, second, people)
            )
        return self


class OutlookLimits(Section):
    """What the administrator allows users of the MS Outlook extension to sync (R03)."""

    allow_appointments: bool = True
    allow_contacts: bool = True
    allow_todos: bool = True
    allow_service_calls: bool = True
    max_contact_scope: ContactScope = ContactScope.ALL
    min_interval_minutes: int = Field(default=15, ge=1, le=1440)


class OutlookSettings(Section):
    limits: OutlookLimits = Field(default_factory=OutlookLimits)


class ExchangePreferences(Section):
    """Which item types a user wants from the Exchange extension, within the tab's limits.

    ``None`` means the user has not chosen: they get whatever the administrator allows.
    """

    appointments: bool | None = None
    todos: bool | None = None
    service_calls: bool | None = None
    contacts: bool | None = None
    import_appointments: bool | None = None


class OutlookUser(Section):
    """What is known of a user's Outlook extension, and their choices in its Options."""

    installed: bool = False
    version: Text | None = None
    contact_integration: bool = False
    """Options > Contacts > "Enable contact integration" (R12)."""
    contact_scope: ContactScope = ContactScope.OWNED
    appointments: bool | None = None
    """Item types as in :class:`ExchangePreferences`; ``None`` follows the limits."""
    todos: bool | None = None
    service_calls: bool | None = None
    interval_minutes: int = Field(default=30, ge=1, le=1440)


class UserSettings(Section):
    exchange: ExchangePreferences = Field(default_factory=ExchangePreferences)
    outlook: OutlookUser = Field(default_factory=OutlookUser)


class PsaSettings(Section):
    """Where PSA records come from: the embedded SQLite PSA, or the PSA's REST API."""

    kind: PsaKind = PsaKind.EMBEDDED
    web_url: Url = "https://psa.example.com"
    """Base of the links to PSA records written into mailbox items (R15)."""
    rest_url: CredentialUrl | None = None
    """Where zone discovery asks (e.g. https://webservices.example.com/ATServicesRest/)."""
    rest_username: Text | None = None
    rest_integration_code: Text | None = None
    rest_secret: SecretRef | None = None
    rest_timeout_seconds: int = Field(default=30, ge=5, le=300)
    """Each API request's overall deadline."""
    rest_max_response_mib: int = Field(default=DEFAULT_MAX_RESPONSE_MIB, ge=1, le=1024)
    """The most msext reads of one API answer; a larger one fails its request."""
    rest_max_wait_seconds: int = Field(default=60, ge=1, le=600)
    """The longest a run waits out the API's throttling before leaving it to the next run."""
    rest_requests_per_hour: int = Field(default=5_000, ge=100, le=10_000)
    """msext's share of the database's 10,000 requests an hour, which every integration
    shares (the API adds latency from about half of it)."""

    @model_validator(mode="after")
    def _complete_for_rest(self) -> PsaSettings:
        if self.kind is PsaKind.REST:
            for name in ("rest_url", "rest_username", "rest_integration_code", "rest_secret"):
                if not getattr(self, name):
                    raise FieldRuleError(
                        name, "the REST API needs its URL, API user, integration code and secret"
                    )
        return self

    def http_limits(self) -> HttpLimits:
        return HttpLimits(
            deadline_seconds=self.rest_timeout_seconds,
            max_response_bytes=self.rest_max_response_mib * MIB,
            deadline_setting="psa.rest_timeout_seconds",
            size_setting="psa.rest_max_response_mib",
        )


class SandboxSettings(Section):
    """The embedded emulators (EWS, and Graph over the same mailboxes) that stand in for
    Exchange in the demo profile."""

    enabled: bool = False
    port: int = Field(default=0, ge=0, le=65535)


class ConsoleSettings(Section):
    keymap: dict[Text, Text] = Field(default_factory=dict, max_length=MAX_TEXT_LENGTH)
    """Binding id -> keys, applied with ``App.set_keymap``."""
    tour_seen: bool = False


class Settings(Section):
    """One profile's configuration; environment variables ``MSEXT_A__B`` override it."""

    exchange: ExchangeSettings = Field(default_factory=ExchangeSettings)
    outlook: OutlookSettings = Field(default_factory=OutlookSettings)
    users: dict[int, UserSettings] = Field(default_factory=dict)
    psa: PsaSettings = Field(default_factory=PsaSettings)
    adsync: AdSyncSettings = Field(default_factory=AdSyncSettings)
    teams: TeamsSettings = Field(default_factory=TeamsSettings)
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)

    @model_validator(mode="after")
    def _endpoint_when_enabled(self) -> Settings:
        general = self.exchange.general
        graph = general.mailbox_api is MailboxApi.GRAPH
        if graph and self.exchange.sync.todo_folder is TodoFolder.TASKS:
            raise FieldRuleError(
                "exchange.sync.todo_folder",
                "with Microsoft Graph, to-dos go to the calendar: the Tasks folder is reached"
                " through EWS only",
            )
        if self.psa.kind is PsaKind.REST and (
            refusal := poll_budget_refusal(self.exchange.sync.psa_poll_seconds)
        ):
            raise FieldRuleError("exchange.sync.psa_poll_seconds", refusal)
        if general.enabled and not (
            graph or general.ews_url or general.autodiscover_email or self.sandbox.enabled
        ):
            raise FieldRuleError(
                "exchange.general.ews_url",
                "set the EWS URL or an autodiscover e-mail address to enable sync",
            )
        return self

    def user(self, resource_id: int) -> UserSettings:
        """A user's preferences; defaults for a user nobody configured."""
        return self.users.get(resource_id) or UserSettings()

    def resource(self, resource_id: int) -> ResourceSetting:
        return self.exchange.resources.get(resource_id) or ResourceSetting()

    def mailbox_address(self, resource_id: int, psa_email: str) -> str:
        """The resource's mailbox: its explicit one, or its PSA e-mail."""
        return self.resource(resource_id).mailbox or psa_email.lower()

    def warnings(self) -> list[tuple[str, str]]:
        return self.exchange.general.warnings()
