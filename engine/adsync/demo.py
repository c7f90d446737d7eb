"""The demo's directories: who is in the directory of the two demo organizations that sync
their contacts from it (company 1 from Entra ID, company 2 from Active Directory over
LDAPS).

Each directory is derived from the demo PSA's contacts of its company, so that most users
match a contact by e-mail, plus the cases an admin meets in real life, planted one each:
a user found by name only (the directory's e-mail differs from the contact's), a blank
directory field over a filled PSA value, a disabled account, a user removed from the scope
(not in the group, or outside the base DN), two users sharing one e-mail address, and a few
people the PSA does not know yet. The same contacts always give the same users.

The sandbox's Graph and LDAP peers seed themselves from :func:`demo_directory`; users with
``in_scope`` false exist in the directory but are outside the organization's scope.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum

from engine.adsync.model import DirectoryUser
from engine.adsync.state import AdSyncState
from engine.psa.contacts import ContactValues, PsaContact
from engine.psa.demo import FIRST_NAMES, LAST_NAMES
from engine.settings.adsync import DirectoryType

DEMO_DIRECTORY_SEED = 19
ENTRA_COMPANY_ID = 1
LDAPS_COMPANY_ID = 2
DEMO_DIRECTORY_TYPES = {
    ENTRA_COMPANY_ID: DirectoryType.ENTRA_ID,
    LDAPS_COMPANY_ID: DirectoryType.LDAPS,
}
"""Which demo organization syncs from which kind of directory."""
CUSTOMER_DOMAIN = "customer.example"
"""The demo PSA's contacts have addresses in this domain; so do their directory users."""
NEW_USERS = 3

ENTRA_TENANT_ID = "4f1c2a9e-8b3d-4e6f-a7c5-1d2e3f4a5b6c"
"""The customer's own tenant (not the MSP's), where the app registration reads one group."""
ENTRA_CLIENT_ID = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"
ENTRA_GROUP_ID = "c0ffee00-1919-4a19-9e19-adad5c0a1919"
ENTRA_GROUP_NAME = "PSA Contacts"
ENTRA_SECRET_NAME = "adsync-entra-1"
ENTRA_SECRET_LIFETIME = timedelta(days=21)
LDAPS_HOST = "dc01.customer.example"
LDAPS_DOMAIN_DN = "DC=customer,DC=example"
LDAPS_BASE_DN = f"OU=Staff,{LDAPS_DOMAIN_DN}"
LDAPS_OUTSIDE_DN = f"OU=Former Staff,{LDAPS_DOMAIN_DN}"
"""Where the user removed from scope lives: under the domain, outside the base DN."""
LDAPS_BIND_DN = f"CN=svc-psa-sync,OU=Service Accounts,{LDAPS_DOMAIN_DN}"
LDAPS_SECRET_NAME = "adsync-ldaps-2"

DEPARTMENTS = ("Sales", "Finance", "Operations", "IT", "Front office")
COUNTRY = "United States"
_ID_NAMESPACE = uuid.UUID("5c7a1e19-0d1e-4c19-8a19-0000000000ad")


class DemoCase(StrEnum):
    """What a demo directory user shows."""

    EMAIL_MATCH = "e-mail match"
    NAME_ONLY = "name-only match"
    BLANK_FIELD = "blank directory field"
    DISABLED = "disabled account"
    OUT_OF_SCOPE = "removed from scope"
    SHARED_EMAIL = "shared e-mail"
    NEW = "new user"


PLANTED_ON_CONTACTS = (
    DemoCase.NAME_ONLY,
    DemoCase.BLANK_FIELD,
    DemoCase.DISABLED,
    DemoCase.OUT_OF_SCOPE,
    DemoCase.SHARED_EMAIL,
)
"""Cases planted on the company's first contacts, in this order (a company with fewer
contacts gets the first ones only); the remaining contacts are plain e-mail matches."""


@dataclass(frozen=True, slots=True)
class DemoDirectoryUser:
    user: DirectoryUser
    case: DemoCase
    in_scope: bool = True
    """False: in the directory, but not in the group (Entra ID) or outside the base DN
    (LDAPS), so the sync does not see it."""
    contact_id: int | None = None
    """The demo contact the user was derived from (None for a new user)."""


def demo_directory(company_id: int, contacts: Sequence[PsaContact]) -> list[DemoDirectoryUser]:
    """The directory users of a demo organization, derived from its PSA contacts."""
    rng = random.Random(DEMO_DIRECTORY_SEED * 1000 + company_id)
    ldaps = DEMO_DIRECTORY_TYPES.get(company_id) is DirectoryType.LDAPS
    ordered = sorted(contacts, key=lambda contact: contact.id)
    users = []
    for index, contact in enumerate(ordered):
        case = PLANTED_ON_CONTACTS[index] if index < len(PLANTED_ON_CONTACTS) else None
        values = _directory_values(contact.values, rng)
        users.append(_planted(company_id, contact, values, case or DemoCase.EMAIL_MATCH, ldaps))
        if case is DemoCase.SHARED_EMAIL:
            shared = ContactValues(
                first_name="Front",
                last_name="Desk",
                email=values.email,
                department="Front office",
                phone=values.phone,
                country=COUNTRY,
            )
            users.append(
                _user(company_id, f"shared-{contact.id}", shared, DemoCase.SHARED_EMAIL, ldaps)
            )
    taken = {(c.values.first_name, c.values.last_name) for c in ordered}
    for index, (first, last) in enumerate(_new_names(rng, taken)):
        values = _directory_values(
            ContactValues(
                first_name=first,
                middle_name="Marie" if index == 0 else "",
                last_name=last,
                email=f"{first}.{last}.{company_id}@{CUSTOMER_DOMAIN}".lower(),
                phone=f"+1 555 {rng.randint(1000, 9999)}",
                title=rng.choice(("Engineer", "Consultant", "Assistant")),
            ),
            rng,
        )
        users.append(_user(company_id, f"new-{index}", values, DemoCase.NEW, ldaps))
    return users


def _planted(
    company_id: int, contact: PsaContact, values: ContactValues, case: DemoCase, ldaps: bool
) -> DemoDirectoryUser:
    if case is DemoCase.EMAIL_MATCH and contact.id % 2:
        # Directories keep the case people typed: matching ignores it.
        values = replace(values, email=values.email.title())
    elif case is DemoCase.NAME_ONLY:
        domain = "corp." + CUSTOMER_DOMAIN
        values = replace(values, email=f"{values.first_name}.{values.last_name}@{domain}".lower())
    elif case is DemoCase.BLANK_FIELD:
        values = replace(values, phone="", title="")
    user = _user(company_id, f"contact-{contact.id}", values, case, ldaps)
    return replace(
        user,
        user=replace(user.user, enabled=case is not DemoCase.DISABLED),
        in_scope=case is not DemoCase.OUT_OF_SCOPE,
        contact_id=contact.id,
    )


def _user(
    company_id: int, key: str, values: ContactValues, case: DemoCase, ldaps: bool
) -> DemoDirectoryUser:
    directory_id = str(uuid.uuid5(_ID_NAMESPACE, f"{company_id}/{key}"))
    local = f"{values.first_name}.{values.last_name}".lower()
    login = local[:20] if ldaps else f"{local}@{CUSTOMER_DOMAIN}"
    return DemoDirectoryUser(DirectoryUser(directory_id, login, values), case)


def _directory_values(psa: ContactValues, rng: random.Random) -> ContactValues:
    """A directory knows more than the PSA: department, mobile, office address."""
    return replace(
        psa,
        department=rng.choice(DEPARTMENTS),
        mobile_phone=f"+1 555 {rng.randint(1000, 9999)}",
        street=f"{rng.randint(1, 200)} Station Square",
        city="Riverton",
        state="OR",
        postal_code=f"97{rng.randint(100, 999)}",
        country=COUNTRY,
    )


def _new_names(rng: random.Random, taken: set[tuple[str, str]]) -> list[tuple[str, str]]:
    names: list[tuple[str, str]] = []
    while len(names) < NEW_USERS:
        name = (rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES))
        if name not in taken and name not in names:
            names.append(name)
    return names


def demo_adsync_settings(today: date) -> dict[str, object]:
    """The demo configuration's ``adsync`` section: both organizations enabled, each with
    its directory's connection (the sandbox serves both; secrets by reference). The Entra
    ID client secret expires in three weeks, so the console has an expiry to warn about."""
    return {
        "organizations": {
            str(ENTRA_COMPANY_ID): {
                "enabled": True,
                "directory": DirectoryType.ENTRA_ID.value,
                "entra_id": {
                    "tenant_id": ENTRA_TENANT_ID,
                    "client_id": ENTRA_CLIENT_ID,
                    "secret": f"file:{ENTRA_SECRET_NAME}",
                    "group_id": ENTRA_GROUP_ID,
                    "secret_expires": (today + ENTRA_SECRET_LIFETIME).isoformat(),
                },
            },
            str(LDAPS_COMPANY_ID): {
                "enabled": True,
                "directory": DirectoryType.LDAPS.value,
                "ldaps": {
                    "host": LDAPS_HOST,
                    "bind_dn": LDAPS_BIND_DN,
                    "secret": f"file:{LDAPS_SECRET_NAME}",
                    "base_dn": LDAPS_BASE_DN,
                },
            },
        }
    }


DEMO_SECRET_NAMES = (ENTRA_SECRET_NAME, LDAPS_SECRET_NAME)
"""The directory secrets the demo profile writes (random, like the EWS account's)."""


def seed_demo_mappings(state: AdSyncState, contacts: Callable[[int], Sequence[PsaContact]]) -> None:
    """The user removed from scope was synced before it left: its mapping is there, so the
    demo's first run makes its contact inactive (only a mapped contact ever is)."""
    for company_id in DEMO_DIRECTORY_TYPES:
        departed = {
            entry.user.directory_id: entry.contact_id
            for entry in demo_directory(company_id, contacts(company_id))
            if entry.case is DemoCase.OUT_OF_SCOPE and entry.contact_id is not None
        }
        state.save_mappings(company_id, departed)
