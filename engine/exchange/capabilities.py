"""What the MS Outlook and the MS Exchange extension each do, as data, and for one user.

:data:`MATRIX` is the seed's comparison table, row by row, with its notes and the
Outlook-only add-in actions (R20). :func:`evaluate` reads the settings and says, for one
user, what each module does, which module handles each item type, and where the two
collide (R11, R12) or a user asks for more than the administrator allows (R03).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from engine.psa.model import RecordKind
from engine.settings.model import ContactScope, ImportMode, Settings


class Cell(StrEnum):
    """The state of one module for one row and one user; shown as a word, not a colour."""

    ON = "on"
    OFF = "off"
    BLOCKED = "blocked by limit"
    DISABLED = "disabled"
    NOT_AVAILABLE = "not available"
    INFO = "info"


class Handler(StrEnum):
    """Which module effectively handles an item type for a user."""

    EXCHANGE = "exchange"
    OUTLOOK = "outlook"
    BOTH = "both"
    NONE = "none"


class Severity(StrEnum):
    CONFLICT = "conflict"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Row:
    """One row of the seed's table: what each module does, in the seed's words."""

    key: str
    section: str
    label: str
    outlook: str
    exchange: str
    rules: tuple[str, ...] = ()


SYNC = "Synchronization"
CONTACTS = "Contacts"
APPOINTMENTS = "Appointments"
SETUP = "Installation and setup"
ACTIONS = "Outlook add-in actions"

MATRIX: tuple[Row, ...] = (
    Row(
        "interval",
        SYNC,
        "Interval",
        "The PSA user sets up and controls the sync interval.",
        "The administrator sets the interval for all users; the minimum is 10 minutes. The"
        " actual sync can take longer when the Exchange server's queue is busy.",
        ("R01",),
    ),
    Row(
        "calendar_from_psa",
        SYNC,
        "Calendar from the PSA",
        "Received manually when Outlook starts or closes, or at scheduled intervals.",
        "Synchronized automatically at the interval the administrator configured.",
        ("R02", "R04"),
    ),
    Row(
        "when",
        SYNC,
        "When it runs",
        "Only while Outlook is open for the PSA user.",
        "At scheduled intervals; needs no open Outlook.",
        ("R02",),
    ),
    Row(
        "item_types",
        SYNC,
        "Who chooses what syncs",
        "Users, within limits set by the PSA administrator.",
        "Users, within limits set by the PSA administrator.",
        ("R03",),
    ),
    Row(
        "appointments_from_psa",
        SYNC,
        "Appointments from the PSA",
        "Received from the PSA.",
        "Synchronized from the PSA into the mailbox calendar.",
        ("R04", "R15"),
    ),
    Row(
        "appointments_to_psa",
        SYNC,
        "Appointments to the PSA",
        "Sent from Outlook by hand.",
        "Synchronized from the mailbox to the PSA.",
        ("R04",),
    ),
    Row(
        "private_appointments",
        SYNC,
        "Private appointments",
        "The source document says nothing for this module: only what the user sends.",
        'Transferred to the PSA calendar only as "Appointment", with date and time, no details.',
        ("R05",),
    ),
    Row(
        "todos",
        SYNC,
        "To-dos",
        "From the PSA only.",
        "From the PSA only.",
        ("R09", "R15"),
    ),
    Row(
        "service_calls",
        SYNC,
        "Service calls",
        "From the PSA only.",
        "From the PSA only; the mailbox copy carries the location.",
        ("R09", "R15", "R17"),
    ),
    Row(
        "contacts_receiving",
        CONTACTS,
        "Receiving contacts",
        "All PSA contacts, or those for which you are account manager or opportunity owner"
        " (Outlook extension options).",
        "Synchronized from the PSA automatically at the administrator's interval.",
        ("R07", "R08"),
    ),
    Row(
        "contacts_sending",
        CONTACTS,
        "Sending contacts",
        "Selected contacts are sent to the PSA (disabled when MS Exchange is enabled for the"
        " same user).",
        "Not available: the MS Exchange extension never sends contacts to the PSA.",
        ("R07", "R11"),
    ),
    Row(
        "series",
        APPOINTMENTS,
        "Recurring series",
        "Sent to the PSA with a series icon; can be deleted as a group.",
        "Sent to the PSA without a series icon.",
        ("R10",),
    ),
    Row(
        "appointments_sending",
        APPOINTMENTS,
        "Sending appointments",
        "Selected appointments are sent by hand (disabled when MS Exchange is enabled for the"
        " same user).",
        "All appointments sync to the PSA, with full details or without details.",
        ("R06", "R11"),
    ),
    Row(
        "installation",
        SETUP,
        "Installation and setup",
        "A client install on every workstation, from Admin > Features & Settings >"
        " Application-wide (shared) features > Downloads > MS Outlook extension.",
        "Configured in the PSA at Admin > Extensions & Integrations > Microsoft Extensions >"
        " MS Exchange, with a synchronization account set up with an MS Exchange administrator.",
        ("R13", "R14"),
    ),
    Row(
        "works_with",
        SETUP,
        "Works with",
        "Outlook, on the workstation where it is installed.",
        "All MS Exchange clients: Outlook, Outlook Web Access (OWA), phones and PDAs, and every"
        " mail client that supports MS Exchange.",
        ("R20",),
    ),
)

ADD_IN_ACTIONS: tuple[tuple[str, str], ...] = (
    ("CRM", "Add CRM to-do"),
    ("CRM", "Add contact"),
    ("CRM", "Add contact note"),
    ("CRM", "Add contact note from e-mail"),
    ("Projects", "Enter project time"),
    ("Projects", "Add project note"),
    ("Projects", "Add project note from e-mail"),
    ("Projects", "Add task note"),
    ("Projects", "Add task note from e-mail"),
    ("Service desk", "Enter start/stop time"),
    ("Service desk", "Add service call"),
    ("Service desk", "Add ticket"),
    ("Service desk", "Add ticket from e-mail"),
    ("Service desk", "Add ticket note"),
    ("Service desk", "Add ticket note from e-mail"),
)
"""Actions only the Outlook extension adds inside Outlook (R20)."""

CONTACT_REMEDY: tuple[str, ...] = (
    "In Outlook, choose Options from the PSA menu, open the Contacts tab and tick"
    ' "Enable contact integration"; complete the other settings as wanted.',
    "In the PSA, choose Admin > Extensions & Integrations > Microsoft Extensions > MS Exchange;"
    ' on the "Synchronization" tab, under "Export PSA entries to Exchange", clear "Share'
    ' contacts for which the resource is account manager or opportunity owner" and click Save.',
)
"""The seed's two-step remedy for contacts synced by both modules (R12)."""


@dataclass(frozen=True)
class UserRef:
    resource_id: int
    name: str
    email: str


@dataclass(frozen=True)
class RowState:
    row: Row
    outlook: Cell
    outlook_detail: str
    exchange: Cell
    exchange_detail: str


@dataclass(frozen=True)
class Conflict:
    code: str
    severity: Severity
    title: str
    detail: str
    rules: tuple[str, ...]
    remedy: tuple[str, ...]


@dataclass(frozen=True)
class Comparison:
    """What each module does for one user, and where they collide."""

    user: UserRef
    exchange_enabled: bool
    outlook_installed: bool
    rows: tuple[RowState, ...]
    actions: tuple[tuple[str, str, Cell], ...]
    handlers: dict[RecordKind, Handler]
    conflicts: tuple[Conflict, ...]

    @property
    def problems(self) -> tuple[Conflict, ...]:
        """Conflicts and warnings; informational notes left out."""
        return tuple(c for c in self.conflicts if c.severity is not Severity.INFO)

    def as_dict(self) -> dict[str, object]:
        """Stable JSON shape for ``msext compare --json``."""
        return {
            "user": {
                "resource_id": self.user.resource_id,
                "name": self.user.name,
                "email": self.user.email,
            },
            "exchange_enabled": self.exchange_enabled,
            "outlook_installed": self.outlook_installed,
            "rows": [
                {
                    "key": state.row.key,
                    "section": state.row.section,
                    "label": state.row.label,
                    "rules": list(state.row.rules),
                    "outlook": {"state": state.outlook.value, "detail": state.outlook_detail},
                    "exchange": {"state": state.exchange.value, "detail": state.exchange_detail},
                }
                for state in self.rows
            ],
            "add_in_actions": [
                {"area": area, "action": action, "outlook": cell.value, "exchange": "not available"}
                for area, action, cell in self.actions
            ],
            "handlers": {item.value: handler.value for item, handler in self.handlers.items()},
            "conflicts": [
                {
                    "code": conflict.code,
                    "severity": conflict.severity.value,
                    "title": conflict.title,
                    "detail": conflict.detail,
                    "rules": list(conflict.rules),
                    "remedy": list(conflict.remedy),
                }
                for conflict in self.conflicts
            ],
        }


@dataclass(frozen=True)
class _Choice:
    """One item type as one module handles it for a user.

    ``preference`` is the user's own choice, ``None`` when they made none (then they get
    what the administrator allows, and nothing is "blocked").
    """

    allowed: bool
    preference: bool | None

    @property
    def active(self) -> bool:
        return self.allowed and self.preference is not False

    @property
    def blocked(self) -> bool:
        return self.preference is True and not self.allowed

    def cell(self) -> Cell:
        if self.active:
            return Cell.ON
        return Cell.BLOCKED if self.blocked else Cell.OFF


@dataclass(frozen=True)
class ExchangeScope:
    """What the MS Exchange extension syncs for one user: the tab's limits and their choices."""

    kinds: frozenset[RecordKind]
    contact_scope: ContactScope
    import_mode: ImportMode


def _exchange_choices(
    settings: Settings, resource_id: int
) -> tuple[dict[RecordKind, _Choice], _Choice]:
    sync = settings.exchange.sync
    prefs = settings.user(resource_id).exchange
    choices = {
        RecordKind.APPOINTMENT: _Choice(sync.export_appointments, prefs.appointments),
        RecordKind.TODO: _Choice(sync.export_todos, prefs.todos),
        RecordKind.SERVICE_CALL: _Choice(sync.export_service_calls, prefs.service_calls),
        RecordKind.CONTACT: _Choice(sync.share_contacts, prefs.contacts),
    }
    imports = _Choice(sync.import_appointments is not ImportMode.OFF, prefs.import_appointments)
    return choices, imports


def exchange_scope(settings: Settings, resource_id: int) -> ExchangeScope:
    """R03: the item types the engine syncs for a user, within the administrator's limits."""
    choices, imports = _exchange_choices(settings, resource_id)
    return ExchangeScope(
        kinds=frozenset(kind for kind, choice in choices.items() if choice.active),
        contact_scope=settings.exchange.sync.contact_scope,
        import_mode=settings.exchange.sync.import_appointments
        if imports.active
        else ImportMode.OFF,
    )


def evaluate(settings: Settings, user: UserRef) -> Comparison:
    """The comparison for one user (R20), from the settings alone."""
    return _Evaluation(settings, user).comparison()


class _Evaluation:
    def __init__(self, settings: Settings, user: UserRef) -> None:
        self.settings = settings
        self.user = user
        prefs = settings.user(user.resource_id)
        limits = settings.outlook.limits
        self.outlook = prefs.outlook
        self.exchange_on = (
            settings.exchange.general.enabled and settings.resource(user.resource_id).enabled
        )
        self.outlook_on = prefs.outlook.installed
        self.ex, self.ex_import = _exchange_choices(settings, user.resource_id)
        self.ol = {
            RecordKind.APPOINTMENT: _Choice(limits.allow_appointments, prefs.outlook.appointments),
            RecordKind.TODO: _Choice(limits.allow_todos, prefs.outlook.todos),
            RecordKind.SERVICE_CALL: _Choice(
                limits.allow_service_calls, prefs.outlook.service_calls
            ),
            RecordKind.CONTACT: _Choice(limits.allow_contacts, prefs.outlook.contact_integration),
        }

    @property
    def outlook_contact_scope(self) -> ContactScope:
        if self.settings.outlook.limits.max_contact_scope is ContactScope.OWNED:
            return ContactScope.OWNED
        return self.outlook.contact_scope

    @property
    def outlook_interval(self) -> int:
        return max(self.outlook.interval_minutes, self.settings.outlook.limits.min_interval_minutes)

    def comparison(self) -> Comparison:
        return Comparison(
            user=self.user,
            exchange_enabled=self.exchange_on,
            outlook_installed=self.outlook_on,
            rows=tuple(self._row(row) for row in MATRIX),
            actions=tuple(
                (area, action, Cell.ON if self.outlook_on else Cell.OFF)
                for area, action in ADD_IN_ACTIONS
            ),
            handlers={item: self._handler(item) for item in RecordKind},
            conflicts=tuple(self._conflicts()),
        )

    def _handler(self, item: RecordKind) -> Handler:
        by_exchange = self.exchange_on and self.ex[item].active
        by_outlook = self.outlook_on and self.ol[item].active
        if by_exchange and by_outlook:
            return Handler.BOTH
        if by_exchange:
            return Handler.EXCHANGE
        return Handler.OUTLOOK if by_outlook else Handler.NONE

    def _row(self, row: Row) -> RowState:
        outlook, outlook_detail = self._outlook_cell(row.key)
        exchange, exchange_detail = self._exchange_cell(row.key)
        return RowState(row, outlook, outlook_detail, exchange, exchange_detail)

    def _outlook_cell(self, key: str) -> tuple[Cell, str]:
        match key:
            case "when":
                return Cell.INFO, "only while Outlook is open"
            case "works_with":
                return Cell.INFO, "Outlook on the workstation where it is installed"
            case "item_types":
                return Cell.INFO, "the user's choice within the administrator's limits"
            case "private_appointments":
                return Cell.INFO, "only what the user selects and sends"
        if not self.outlook_on:
            return Cell.OFF, "Outlook extension not installed"
        match key:
            case "interval":
                return Cell.ON, f"every {self.outlook_interval} minutes, set by the user"
            case "calendar_from_psa" | "appointments_from_psa":
                return self.ol[RecordKind.APPOINTMENT].cell(), "while Outlook runs"
            case "todos":
                return self.ol[RecordKind.TODO].cell(), "from the PSA"
            case "service_calls":
                return self.ol[RecordKind.SERVICE_CALL].cell(), "from the PSA"
            case "contacts_receiving":
                scope = self.outlook_contact_scope
                return self.ol[RecordKind.CONTACT].cell(), f"contact integration, scope {scope}"
            case "contacts_sending" | "appointments_sending" | "appointments_to_psa" | "series":
                if self.exchange_on:
                    return Cell.DISABLED, "MS Exchange is enabled for this user (R11)"
                if key == "series":
                    return Cell.ON, "sent by hand, with a series icon"
                return Cell.ON, "selected items, sent by hand"
            case "installation":
                return Cell.ON, f"installed, version {self.outlook.version or 'unknown'}"
        raise AssertionError(f"no Outlook evaluation for row {key}")

    def _exchange_cell(self, key: str) -> tuple[Cell, str]:
        sync = self.settings.exchange.sync
        match key:
            case "when":
                return Cell.INFO, "on schedule; Outlook need not be open"
            case "works_with":
                return Cell.INFO, "every Exchange client, OWA and phones included"
            case "item_types":
                return Cell.INFO, "the user's choice within the administrator's limits"
            case "installation":
                return Cell.INFO, "configured in the PSA; one synchronization account"
            case "contacts_sending":
                return Cell.NOT_AVAILABLE, "never from the mailbox to the PSA (R07)"
            case "interval":
                state = Cell.ON if self.exchange_on else Cell.OFF
                return state, f"every {sync.interval_minutes} minutes, for all users"
        if not self.exchange_on:
            return Cell.OFF, "MS Exchange is not enabled for this user"
        match key:
            case "calendar_from_psa" | "appointments_from_psa":
                return self.ex[RecordKind.APPOINTMENT].cell(), "automatic"
            case "appointments_to_psa" | "appointments_sending":
                details = (
                    "without details"
                    if sync.import_appointments is ImportMode.WITHOUT_DETAILS
                    else "with full details"
                )
                return self.ex_import.cell(), f"all appointments, {details}"
            case "private_appointments":
                return self.ex_import.cell(), 'as "Appointment", date and time only'
            case "series":
                return self.ex_import.cell(), "as single appointments, no series icon"
            case "todos":
                return self.ex[RecordKind.TODO].cell(), f"into the {sync.todo_folder} folder"
            case "service_calls":
                return self.ex[RecordKind.SERVICE_CALL].cell(), "with location"
            case "contacts_receiving":
                return self.ex[RecordKind.CONTACT].cell(), f"scope {sync.contact_scope}"
        raise AssertionError(f"no Exchange evaluation for row {key}")

    def _conflicts(self) -> list[Conflict]:
        conflicts: list[Conflict] = []
        if self._handler(RecordKind.CONTACT) is Handler.BOTH:
            conflicts.append(
                Conflict(
                    code="contacts_both",
                    severity=Severity.CONFLICT,
                    title="Contacts are synced by both modules",
                    detail="The Outlook extension's contact integration and the MS Exchange"
                    " extension's contact sharing both write this user's contacts.",
                    rules=("R12",),
                    remedy=CONTACT_REMEDY,
                )
            )
        if self.exchange_on and self.outlook_on:
            conflicts.append(
                Conflict(
                    code="outlook_send_disabled",
                    severity=Severity.INFO,
                    title='Outlook "send selected contacts" and "send selected appointments"'
                    " are disabled",
                    detail="MS Exchange is enabled for this user, so the Outlook extension does"
                    " not send contacts or appointments to the PSA.",
                    rules=("R11",),
                    remedy=(),
                )
            )
        conflicts.extend(self._limit_conflicts())
        return conflicts

    def _limit_conflicts(self) -> list[Conflict]:
        found: list[Conflict] = []
        names = {
            RecordKind.APPOINTMENT: "appointments",
            RecordKind.TODO: "to-dos",
            RecordKind.SERVICE_CALL: "service calls",
            RecordKind.CONTACT: "contacts",
        }
        for module, choices, active, where in (
            ("MS Exchange", self.ex, self.exchange_on, "the MS Exchange Synchronization tab"),
            ("MS Outlook", self.ol, self.outlook_on, "the MS Outlook extension's limit"),
        ):
            if not active:
                continue
            for item, choice in choices.items():
                if choice.blocked:
                    found.append(
                        Conflict(
                            code=f"limit_{module.split()[1].lower()}_{item.value}",
                            severity=Severity.WARNING,
                            title=f"{module}: {names[item]} wanted but not allowed",
                            detail=f"The user asked for {names[item]}, but {where} does not"
                            " allow them; they do not sync.",
                            rules=("R03",),
                            remedy=(
                                f"Allow {names[item]} on {where}, or clear the user's choice.",
                            ),
                        )
                    )
        if self.outlook_on and self.outlook.contact_integration:
            limits = self.settings.outlook.limits
            if self.outlook.contact_scope is ContactScope.ALL and (
                limits.max_contact_scope is ContactScope.OWNED
            ):
                found.append(
                    Conflict(
                        code="limit_outlook_contact_scope",
                        severity=Severity.WARNING,
                        title="MS Outlook: all contacts wanted, only owned allowed",
                        detail="The user chose all contacts; the administrator allows only contacts"
                        " for which the user is account manager or opportunity owner.",
                        rules=("R03", "R08"),
                        remedy=("Widen the Outlook limit, or set the user's scope to owned.",),
                    )
                )
            if self.outlook.interval_minutes < limits.min_interval_minutes:
                found.append(
                    Conflict(
                        code="limit_outlook_interval",
                        severity=Severity.WARNING,
                        title="MS Outlook: interval below the administrator's minimum",
                        detail=f"The user chose {self.outlook.interval_minutes} minutes; the"
                        f" extension uses the minimum of {limits.min_interval_minutes}.",
                        rules=("R03",),
                        remedy=("Raise the user's Outlook interval.",),
                    )
                )
        return found
