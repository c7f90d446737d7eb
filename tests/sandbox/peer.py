"""exchangelib configured against the emulator as an administrator would."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from xml.etree import ElementTree as ET

from exchangelib import (
    BASIC,
    IMPERSONATION,
    UTC,
    Account,
    CalendarItem,
    Configuration,
    Credentials,
    EWSDateTime,
    Version,
)
from exchangelib.protocol import close_connections
from exchangelib.version import EXCHANGE_2016

from engine.sandbox.ews import EwsEmulator, MailboxSpec
from engine.sandbox.ews.items import normalise
from engine.sandbox.ews.xml import format_datetime, sub, t

SERVICE = ("svc-msext@contoso.example", "s3rvice-pass")
ALICE = "alice@contoso.example"
BOB = "bob@contoso.example"


def new_emulator(**options: object) -> EwsEmulator:
    """Alice may be impersonated by the service account, Bob may not."""
    return EwsEmulator(
        service_account=SERVICE,
        mailboxes=[
            MailboxSpec(ALICE, "Alice Example", password="alice-pass"),
            MailboxSpec(BOB, "Bob Example", password="bob-pass", granted=False),
        ],
        **options,
    )


@contextmanager
def serving(emulator: EwsEmulator) -> Iterator[EwsEmulator]:
    """The emulator started, then stopped with exchangelib's connection cache cleared."""
    emulator.start()
    try:
        yield emulator
    finally:
        close_connections()
        emulator.stop()


def config(emulator: EwsEmulator, **options: object) -> Configuration:
    """exchangelib's Configuration for the service account (a fresh endpoint per test)."""
    return Configuration(
        service_endpoint=emulator.url,
        credentials=Credentials(*SERVICE),
        auth_type=BASIC,
        version=Version(build=EXCHANGE_2016),
        **options,
    )


def impersonate(emulator: EwsEmulator, address: str = ALICE, **options: object) -> Account:
    return Account(
        address,
        config=config(emulator, **options),
        autodiscover=False,
        access_type=IMPERSONATION,
        default_timezone=UTC,
    )


def save_appointment(
    account: Account, subject: str, start: EWSDateTime, **fields: object
) -> CalendarItem:
    """An hour-long appointment saved in the account's calendar, as Outlook would."""
    item = CalendarItem(
        account=account,
        folder=account.calendar,
        subject=subject,
        start=start,
        end=start + timedelta(hours=1),
        **fields,
    )
    item.save()
    return item


def fill_calendar(
    emulator: EwsEmulator, address: str, subject: str, count: int, first: datetime, step: timedelta
) -> None:
    """``count`` half-hour appointments, ``step`` apart from ``first``, put straight into the
    emulator's store as Outlook would have saved them: a busy calendar in a second."""
    for number in range(count):
        start = first + number * step
        item = ET.Element(t("CalendarItem"))
        sub(item, t("Subject"), f"{subject} {number}")
        sub(item, t("Start"), format_datetime(start))
        sub(item, t("End"), format_datetime(start + timedelta(minutes=30)))
        emulator.store.create(address.lower(), "calendar", normalise(item))
