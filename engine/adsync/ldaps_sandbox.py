"""The demo's Active Directory, served by an LDAP peer of its own: the customer's domain
controller dc01.customer.example, where demo company 2 reads the users under OU=Staff.

The directory is :func:`engine.adsync.demo.demo_directory` of company 2, derived from the
demo data set as it was seeded (never from the PSA as syncs have since changed it), so every
start serves the same users with the same objectGUIDs. The user removed from scope lives
in OU=Former Staff, outside the base DN. The bind account's password is the profile's
``file:`` secret; the peer's certificate is issued for the demo's host name by a CA of its
own, which a run trusts through the PEM file written beside the profile's data.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import TYPE_CHECKING

from engine.adsync.demo import (
    LDAPS_BASE_DN,
    LDAPS_BIND_DN,
    LDAPS_COMPANY_ID,
    LDAPS_DOMAIN_DN,
    LDAPS_HOST,
    LDAPS_OUTSIDE_DN,
    LDAPS_SECRET_NAME,
    DemoDirectoryUser,
    demo_directory,
)
from engine.adsync.entra_sandbox import seeded_contacts
from engine.paths import ProfilePaths
from engine.settings.adsync import DirectoryType
from engine.settings.model import Settings
from engine.settings.secrets import resolve_secret

if TYPE_CHECKING:
    from engine.sandbox.ldap import AdUser, LdapPeer

DEMO_CA_FILE = "adsync-ldaps-ca.pem"
"""In the profile's data directory: the CA the demo's domain controller was issued by."""


def serves_demo_domain(settings: Settings) -> bool:
    """Whether the profile's sandbox stands in for the demo's domain controller: it runs
    the emulators and an organization reads that host."""
    return settings.sandbox.enabled and any(
        organization.directory is DirectoryType.LDAPS and organization.ldaps.host == LDAPS_HOST
        for organization in settings.adsync.organizations.values()
    )


def demo_domain_endpoints(
    stack: ExitStack, settings: Settings, paths: ProfilePaths
) -> dict[str, object]:
    """For a run on a profile whose sandbox stands in for the demo's domain controller:
    where the peer listens (``connect_to``, as DNS would say) and the ``ca_file`` that
    trusts it, to give :func:`~engine.adsync.ldaps.open_ldaps` (the peer stops with
    ``stack``); otherwise nothing (the settings' host and CA)."""
    if not serves_demo_domain(settings):
        return {}
    peer = start_demo_domain(paths)
    stack.callback(peer.stop)
    return {"connect_to": ("127.0.0.1", peer.port), "ca_file": str(paths.data_dir / DEMO_CA_FILE)}


def start_demo_domain(paths: ProfilePaths, port: int = 0) -> LdapPeer:
    """A started LDAP peer serving the demo's domain to the demo's bind account; its CA is
    written to the profile's data directory."""
    from engine.sandbox.ldap import LdapPeer

    secret = resolve_secret(f"file:{LDAPS_SECRET_NAME}", paths)
    users = ad_users(demo_directory(LDAPS_COMPANY_ID, seeded_contacts(LDAPS_COMPANY_ID)))
    peer = LdapPeer(_domain_name(), (LDAPS_BIND_DN, secret), users, host=LDAPS_HOST)
    paths.data_dir.mkdir(parents=True, exist_ok=True)
    (paths.data_dir / DEMO_CA_FILE).write_text(peer.certificate.ca_pem)
    peer.start(port=port)
    return peer


def demo_domain_details(peer: LdapPeer, paths: ProfilePaths) -> dict[str, object]:
    """What ``msext sandbox`` prints about the peer; its demo bind account on purpose, as
    the other peers' (scripts bind with it)."""
    return {
        "ldaps_address": f"127.0.0.1:{peer.port}",
        "ldaps_host": peer.host,
        "ldaps_ca_file": str(paths.data_dir / DEMO_CA_FILE),
        "ldaps_bind_dn": peer.bind_dn,
        "ldaps_password": resolve_secret(f"file:{LDAPS_SECRET_NAME}", paths),
        "ldaps_base_dn": LDAPS_BASE_DN,
        "ldaps_users": peer.domain.user_count,
    }


def ad_users(users: list[DemoDirectoryUser]) -> list[AdUser]:
    """Each demo user in its organizational unit: OU=Staff in scope, OU=Former Staff not."""
    from engine.sandbox.ldap import AdUser

    return [
        AdUser(demo.user, ou=_ou(LDAPS_BASE_DN if demo.in_scope else LDAPS_OUTSIDE_DN))
        for demo in users
    ]


def _ou(dn: str) -> str:
    """``OU=Staff,DC=customer,DC=example`` -> ``Staff``."""
    return dn.split(",")[0].split("=", 1)[1]


def _domain_name() -> str:
    """``DC=customer,DC=example`` -> ``customer.example``."""
    return ".".join(part.split("=", 1)[1] for part in LDAPS_DOMAIN_DN.split(","))
