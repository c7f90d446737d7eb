"""The demo's Entra ID directory, served by a Graph emulator of its own: the customer's
tenant, where demo company 1's app registration reads the group "PSA Contacts".

The directory is :func:`engine.adsync.demo.demo_directory` of company 1, derived from the
demo data set as it was seeded, never from the PSA as syncs have since changed it, so every
start serves the same users with the same ids. The new users sit in a group nested in
"PSA Contacts" (the scope is transitive); the user removed from scope is in the tenant but
in no group. Graph has no middle name: a demo user's is dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from datetime import date
from functools import cache
from typing import TYPE_CHECKING, Any

from engine.adsync.demo import (
    ENTRA_CLIENT_ID,
    ENTRA_COMPANY_ID,
    ENTRA_GROUP_ID,
    ENTRA_GROUP_NAME,
    ENTRA_SECRET_NAME,
    ENTRA_TENANT_ID,
    DemoCase,
    DemoDirectoryUser,
    demo_directory,
)
from engine.adsync.entra import MATCHED_ON, SYNCED
from engine.paths import ProfilePaths
from engine.psa.contacts import ContactValues, PsaContact
from engine.psa.demo import DemoSize, seed_demo_psa
from engine.psa.embedded import EmbeddedPsa
from engine.settings.adsync import ENTRA_ID_PERMISSIONS, DirectoryType
from engine.settings.model import Settings
from engine.settings.secrets import resolve_secret

if TYPE_CHECKING:
    from engine.sandbox.graph import GraphEmulator
    from engine.sandbox.graph.tenant import Tenant

NEW_STARTERS_GROUP = "New Starters"
CONTACTS_ONLY = DemoSize(
    opportunities=0,
    appointments_per_resource=(0, 0),
    todos_per_resource=(0, 0),
    service_calls=0,
    tickets=0,
)
"""The demo data set up to its contacts (seeded first): the same contacts, in milliseconds."""
_PROPERTIES = {name: prop for field in SYNCED.values() for name, prop in field.items()} | MATCHED_ON


def serves_demo_tenant(settings: Settings) -> bool:
    """Whether the profile's sandbox stands in for the demo's Entra ID tenant: it runs the
    emulators and an organization reads that tenant."""
    return settings.sandbox.enabled and any(
        organization.directory is DirectoryType.ENTRA_ID
        and organization.entra_id.tenant_id == ENTRA_TENANT_ID
        for organization in settings.adsync.organizations.values()
    )


def demo_tenant_endpoints(
    stack: ExitStack, settings: Settings, paths: ProfilePaths
) -> dict[str, str]:
    """For a run on a profile whose sandbox stands in for the demo tenant: the emulator's
    ``graph_url`` and ``token_url`` (it stops with ``stack``) to give
    :func:`~engine.adsync.entra.open_entra_id`; otherwise nothing (the settings' URLs)."""
    if not serves_demo_tenant(settings):
        return {}
    peer = start_demo_tenant(paths)
    stack.callback(peer.stop)
    return {"graph_url": peer.url, "token_url": peer.token_url}


def start_demo_tenant(paths: ProfilePaths, port: int = 0) -> GraphEmulator:
    """A started Graph emulator serving the demo's Entra ID directory to the demo's app
    registration (its secret is the profile's ``file:`` secret of that name)."""
    from engine.sandbox.graph import GraphEmulator

    secret = resolve_secret(f"file:{ENTRA_SECRET_NAME}", paths)
    peer = GraphEmulator(None, ENTRA_TENANT_ID, ENTRA_CLIENT_ID, secret, roles=ENTRA_ID_PERMISSIONS)
    seed_directory(peer.tenant, demo_directory(ENTRA_COMPANY_ID, seeded_contacts(ENTRA_COMPANY_ID)))
    peer.start(port=port)
    return peer


def seed_directory(tenant: Tenant, users: Sequence[DemoDirectoryUser]) -> None:
    """The demo's group, its nested group of new starters, and every user with their ids."""
    group = tenant.add_group(ENTRA_GROUP_NAME, id=ENTRA_GROUP_ID)
    starters = tenant.add_group(NEW_STARTERS_GROUP)
    tenant.add_member(group, starters)
    for demo in users:
        user = demo.user
        tenant.add_user(
            user.login,
            account_enabled=user.enabled,
            id=user.directory_id,
            **graph_properties(user.values),
        )
        if demo.in_scope:
            tenant.add_member(starters if demo.case is DemoCase.NEW else group, user.directory_id)


def graph_properties(values: ContactValues) -> dict[str, Any]:
    """Contact values as Graph's user properties (a blank one unset, as Entra ID has it)."""
    properties: dict[str, Any] = {}
    for name, prop in _PROPERTIES.items():
        value = getattr(values, name)
        properties[prop] = ([value] if value else []) if prop == "businessPhones" else value or None
    return properties


@cache
def seeded_contacts(company_id: int) -> list[PsaContact]:
    """The company's contacts as the demo data set seeds them."""
    psa = EmbeddedPsa(":memory:")
    try:
        seed_demo_psa(psa, date(2026, 1, 1), size=CONTACTS_ONLY)
        return psa.company_contacts(company_id)
    finally:
        psa.close()
