"""First-time setup: what the Exchange administrator must grant, and which PSA resources have
a mailbox. The console's wizard drives these; nothing here writes the configuration.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from engine.exchange.mailbox.base import MailboxConnector, MailboxError
from engine.paths import ProfilePaths
from engine.psa.demo import seed_demo_psa
from engine.psa.embedded import EmbeddedPsa
from engine.psa.model import Resource
from engine.settings.model import GRAPH_PERMISSIONS, ServerType

SECRET_NAME = "ews-service-account"
"""The file in the profile's secrets directory that holds the account's secret (0600)."""
PSA_SECRET_NAME = "psa-rest"
"""The file that holds the PSA API user's secret."""


def impersonation_commands(sync_account: str, server_type: ServerType) -> list[str]:
    """The PowerShell an Exchange administrator runs to let the account act for every user."""
    account = sync_account or "svc-msext@example.com"
    grant = (
        'New-ManagementRoleAssignment -Name "msext impersonation"'
        f" -Role ApplicationImpersonation -User {account}"
    )
    if server_type is ServerType.OFFICE365:
        return ["Connect-ExchangeOnline", grant]
    return [grant]


IMPERSONATION_SCOPE_NOTE = (
    "To limit the account to the PSA users' mailboxes, first create a management scope"
    ' (New-ManagementScope -Name "msext users" -RecipientRestrictionFilter ...) and add'
    ' -CustomRecipientWriteScope "msext users" to the command above.'
)


ACCESS_POLICY_GROUP = "msext mailboxes"


def access_policy_commands(client_id: str, sync_account: str) -> list[str]:
    """The PowerShell an Exchange Online administrator runs to limit the Graph app
    registration to the synced mailboxes and the notification sender (R14, R19)."""
    app = client_id or "<client id>"
    account = sync_account or "svc-msext@example.com"
    return [
        "Connect-ExchangeOnline",
        f'New-DistributionGroup -Name "{ACCESS_POLICY_GROUP}" -Type Security',
        f'Add-DistributionGroupMember -Identity "{ACCESS_POLICY_GROUP}" -Member {account}',
        f"New-ApplicationAccessPolicy -AppId {app} -PolicyScopeGroupId"
        f' "{ACCESS_POLICY_GROUP}" -AccessRight RestrictAccess',
    ]


GRAPH_PERMISSIONS_NOTE = (
    "In Microsoft Entra ID the app registration needs the application permissions"
    f" {', '.join(GRAPH_PERMISSIONS)} with admin consent. Add each synced user's mailbox to"
    f' the group (Add-DistributionGroupMember -Identity "{ACCESS_POLICY_GROUP}" -Member ...);'
    " RBAC for Applications (New-ManagementRoleAssignment -App ... -CustomResourceScope ...)"
    " limits the app in the same way."
)


@dataclass(frozen=True)
class MailboxMatch:
    resource: Resource
    address: str
    found: bool
    problem: str = ""


def match_mailboxes(
    connector: MailboxConnector,
    resources: Sequence[Resource],
    progress: Callable[[int, int], object] = lambda done, total: None,
) -> list[MailboxMatch]:
    """Each active resource's PSA e-mail address, looked up in Exchange (ResolveNames)."""
    active = [resource for resource in resources if resource.active]
    matches = []
    for done, resource in enumerate(active, start=1):
        address = resource.email.lower()
        try:
            matches.append(MailboxMatch(resource, address, connector.resolve(address)))
        except MailboxError as error:
            matches.append(MailboxMatch(resource, address, False, str(error)))
        progress(done, len(active))
    return matches


def seed_embedded_psa(paths: ProfilePaths, today: date) -> bool:
    """Give a profile without a PSA the embedded one with the demo data set; whether it did."""
    if paths.psa_db.exists():
        return False
    paths.ensure()
    psa = EmbeddedPsa(paths.psa_db)
    try:
        seed_demo_psa(psa, today)
    finally:
        psa.close()
    return True
