"""The demo profile: an embedded PSA with demo data, the EWS emulator's mailboxes, settings.

Its users are chosen so that every diagnosis has an example: a healthy user, a user with
the contact conflict between the two modules, a user whose mailbox the synchronization
account may not impersonate, a user not enabled for the extension, an inactive resource.
The mailboxes hold appointments people made in Outlook: ordinary, private, all-day, and
weekly series, so that the import rules (R04-R06, R10) have something to show.
"""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from engine.adsync.demo import DEMO_SECRET_NAMES, demo_adsync_settings, seed_demo_mappings
from engine.adsync.state import AdSyncState
from engine.paths import ProfilePaths
from engine.psa.demo import DEMO_DOMAIN, DEMO_SEED, DemoSize, seed_demo_psa
from engine.psa.embedded import EmbeddedPsa
from engine.psa.model import Resource
from engine.settings.model import AuthType, ExchangeVersion, Settings
from engine.settings.secrets import write_secret_file
from engine.settings.store import SettingsStore
from engine.teams.demo import demo_teams_settings, remove_workflow, seed_demo_webhooks

SERVICE_ACCOUNT = f"svc-msext@{DEMO_DOMAIN}"
SECRET_NAME = "ews-service-account"
DEMO_TENANT_ID = "7d2b5c1e-0f4a-4e8b-9c3d-2a1f6e5b4c3d"
DEMO_CLIENT_ID = "b3c1f0e2-5d4a-4c9b-8e7f-6a5b4c3d2e1f"
"""The Graph emulator's demo app registration (its client secret is the account's)."""
PEOPLE_WITH_OWN_APPOINTMENTS = 12
"""How many demo mailboxes get appointments made in Outlook (seeding stays quick)."""


@dataclass(frozen=True)
class DemoRoles:
    """Resource ids of the demo users that show one situation each."""

    healthy: int = 1
    contact_conflict: int = 2
    impersonation_denied: int = 3
    not_enabled: int = 4
    outlook_limits: int = 6


ROLES = DemoRoles()


def demo_settings(resources: list[Resource], today: date) -> dict[str, object]:
    """The demo's configuration document (validated by :class:`Settings`)."""
    enabled = {
        str(resource.id): {"enabled": resource.id != ROLES.not_enabled}
        for resource in resources
        if resource.active
    }
    return {
        "exchange": {
            "general": {
                "enabled": True,
                "sync_account": SERVICE_ACCOUNT,
                "secret": f"file:{SECRET_NAME}",
                "auth_type": AuthType.BASIC.value,
                "oauth_tenant_id": DEMO_TENANT_ID,
                "oauth_client_id": DEMO_CLIENT_ID,
                "exchange_version": ExchangeVersion.EXCHANGE_2016.value,
                "error_recipients": [f"it-support@{DEMO_DOMAIN}"],
            },
            "sync": {"interval_minutes": 30, "contact_scope": "owned"},
            "resources": enabled,
        },
        "outlook": {"limits": {"allow_service_calls": False, "min_interval_minutes": 15}},
        "users": {
            str(ROLES.contact_conflict): {
                "outlook": {"installed": True, "version": "2024.2", "contact_integration": True}
            },
            "5": {"outlook": {"installed": True, "version": "2023.4"}},
            str(ROLES.outlook_limits): {
                "outlook": {"installed": True, "version": "2024.2", "service_calls": True},
            },
        },
        "psa": {"web_url": "https://psa.contoso.example"},
        "adsync": demo_adsync_settings(today),
        "teams": demo_teams_settings(),
        "sandbox": {"enabled": True},
    }


def create_demo_profile(
    paths: ProfilePaths, today: date, reset: bool = False, size: DemoSize | None = None
) -> bool:
    """Create the demo profile unless it exists; returns whether anything was created."""
    if reset:
        for directory in (paths.config_dir, paths.data_dir, paths.state_dir):
            shutil.rmtree(directory, ignore_errors=True)
    store = SettingsStore(paths)
    if store.exists() and paths.psa_db.exists():
        return False
    paths.ensure()
    for leftover in (
        paths.psa_db,
        paths.sandbox_db,
        paths.state_db,
        paths.adsync_db,
        paths.teams_db,
        paths.workflows_sandbox_db,
        paths.events_db,
    ):
        leftover.unlink(missing_ok=True)
    psa = EmbeddedPsa(paths.psa_db)
    try:
        seed_demo_psa(psa, today, seed=DEMO_SEED, size=size)
        resources = psa.resources()
        adsync = AdSyncState(paths.adsync_db)
        try:
            seed_demo_mappings(adsync, psa.company_contacts)
        finally:
            adsync.close()
    finally:
        psa.close()
    secret = secrets.token_urlsafe(18)
    write_secret_file(paths, SECRET_NAME, secret)
    seed_demo_mailboxes(paths, resources, secret, today)
    for name in DEMO_SECRET_NAMES:
        write_secret_file(paths, name, secrets.token_urlsafe(18))
    seed_demo_webhooks(paths)
    settings = Settings.model_validate(demo_settings(resources, today))
    store.save(settings)
    remove_workflow(paths, settings)
    return True


def seed_demo_mailboxes(
    paths: ProfilePaths, resources: list[Resource], secret: str, today: date
) -> None:
    """The emulator's mailboxes, and appointments people made in Outlook in some of them."""
    from engine.sandbox.ews import EwsEmulator, MailboxSpec

    specs = [
        MailboxSpec(
            resource.email,
            resource.name,
            password=secrets.token_urlsafe(12),
            granted=resource.id != ROLES.impersonation_denied,
        )
        for resource in resources
    ]
    with EwsEmulator(
        db_path=paths.sandbox_db, service_account=(SERVICE_ACCOUNT, secret), mailboxes=specs
    ) as emulator:
        people = [r for r in resources if r.active and r.id != ROLES.impersonation_denied]
        _own_appointments(emulator.url, secret, people[:PEOPLE_WITH_OWN_APPOINTMENTS], today)


def _own_appointments(url: str, secret: str, people: list[Resource], today: date) -> None:
    """What people put in their calendars themselves: no PSA stamp on any of it."""
    from exchangelib import (
        BASIC,
        IMPERSONATION,
        Account,
        CalendarItem,
        Configuration,
        Credentials,
        EWSDate,
        EWSDateTime,
        Version,
    )
    from exchangelib import UTC as EWS_UTC
    from exchangelib.protocol import Protocol
    from exchangelib.recurrence import Recurrence, WeeklyPattern
    from exchangelib.version import EXCHANGE_2016

    config = Configuration(
        service_endpoint=url,
        credentials=Credentials(SERVICE_ACCOUNT, secret),
        auth_type=BASIC,
        version=Version(build=EXCHANGE_2016),
    )

    def at(day: int, hour: int) -> EWSDateTime:
        moment = datetime.combine(today + timedelta(days=day), time(hour), UTC)
        return EWSDateTime.from_datetime(moment).astimezone(EWS_UTC)

    try:
        for index, person in enumerate(people):
            account = Account(
                person.email,
                config=config,
                autodiscover=False,
                access_type=IMPERSONATION,
                default_timezone=EWS_UTC,
            )
            calendar = account.calendar
            items = [
                CalendarItem(
                    account=account,
                    folder=calendar,
                    subject="Lunch with Harbor Logistics",
                    body="Bring the signed quote.",
                    location="Harbor Road 12",
                    start=at(index % 5 + 1, 12),
                    end=at(index % 5 + 1, 13),
                ),
                CalendarItem(
                    account=account,
                    folder=calendar,
                    subject="Dentist",
                    body="Root canal.",
                    sensitivity="Private",
                    start=at(index % 4 + 2, 8),
                    end=at(index % 4 + 2, 9),
                ),
                CalendarItem(
                    account=account,
                    folder=calendar,
                    subject="Focus time",
                    start=at(-(index % 3) - 1, 14),
                    end=at(-(index % 3) - 1, 16),
                ),
            ]
            if index % 3 == 0:
                first = today + timedelta(days=1)
                items.append(
                    CalendarItem(
                        account=account,
                        folder=calendar,
                        subject="Product team sync",
                        start=at(1, 9),
                        end=at(1, 10),
                        recurrence=Recurrence(
                            pattern=WeeklyPattern(interval=1, weekdays=[first.isoweekday()]),
                            start=EWSDate.from_date(first),
                            number=6,
                        ),
                    )
                )
            if index == 0:
                day = EWSDate.from_date(today + timedelta(days=3))
                items.append(
                    CalendarItem(
                        account=account,
                        folder=calendar,
                        subject="Partner conference",
                        is_all_day=True,
                        start=day,
                        end=day + timedelta(days=1),
                    )
                )
            account.bulk_create(folder=calendar, items=items)
    finally:
        Protocol(config=config).close()
