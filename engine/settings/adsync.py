"""Active Directory (AD) Sync settings: per customer organization (a PSA company), which
directory its users come from and which contact fields they fill.

Mirrors Admin > Extensions & Integrations > Microsoft Extensions > Active Directory (AD)
Sync, one entry per organization (the vendor allows one AD sync per organization). The
sync is one way, directory -> PSA contacts; secrets are kept by reference only.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import Field, model_validator

from engine.net.limits import HttpLimits
from engine.settings.fields import (
    CredentialUrl,
    FieldRuleError,
    SecretRef,
    Section,
    Text,
)

AD_SYNC_INTERVAL_HOURS = 24
"""The vendor's fixed schedule, counted from the last scheduled or forced run."""
MAX_LDAP_FILTERS = 20
MAX_ORGANIZATIONS = 10_000
GRAPH_USER_PERMISSION = "User.Read.All"
GRAPH_GROUP_PERMISSION = "GroupMember.Read.All"
ENTRA_ID_PERMISSIONS = (GRAPH_USER_PERMISSION, GRAPH_GROUP_PERMISSION)
"""The application permissions the app registration needs to read one group's members."""


class DirectoryType(StrEnum):
    ENTRA_ID = "entra_id"
    LDAPS = "ldaps"


class ContactField(StrEnum):
    """What a directory user may fill in its PSA contact; names always sync (they match)."""

    EMAIL = "email"
    TITLE = "title"
    DEPARTMENT = "department"
    PHONE = "phone"
    MOBILE_PHONE = "mobile_phone"
    ADDRESS = "address"


class EntraIdDirectory(Section):
    """Microsoft Entra ID through Microsoft Graph: the transitive members of one group."""

    tenant_id: Text = ""
    client_id: Text = ""
    secret: SecretRef | None = None
    secret_expires: date | None = None
    """The client secret's expiry, as the app registration shows it: warned about ahead."""
    group_id: Text = ""
    graph_url: CredentialUrl = "https://graph.microsoft.com/v1.0"
    token_url: CredentialUrl | None = None
    """Defaults to the tenant's login.microsoftonline.com token endpoint."""
    timeout_seconds: int = Field(default=30, ge=5, le=300)
    """Each Graph request's deadline (a page of 999 users included)."""

    def token_endpoint(self) -> str:
        return self.token_url or (
            f"https://login.microsoftonline.com/{self.tenant_id}/oauth2/v2.0/token"
        )

    def http_limits(self, company_id: int) -> HttpLimits:
        return HttpLimits(
            deadline_seconds=self.timeout_seconds,
            deadline_setting=f"adsync.organizations.{company_id}.entra_id.timeout_seconds",
            size_setting="a fixed cap",
        )


class LdapsDirectory(Section):
    """On-premises Active Directory over LDAPS: users matching any filter under a base DN."""

    host: Text = ""
    port: int = Field(default=636, ge=1, le=65535)
    bind_dn: Text = ""
    """The bind account (a DN or user@domain)."""
    secret: SecretRef | None = None
    base_dn: Text = ""
    filters: list[Text] = Field(
        default_factory=lambda: ["(&(objectCategory=person)(objectClass=user))"],
        min_length=1,
        max_length=MAX_LDAP_FILTERS,
    )
    verify_tls: bool = True
    ca_file: Text | None = None
    """A PEM bundle of the domain's CA, when its certificate is not publicly trusted."""
    timeout_seconds: int = Field(default=30, ge=5, le=300)


class OrganizationSync(Section):
    """One organization's AD sync."""

    enabled: bool = False
    directory: DirectoryType = DirectoryType.ENTRA_ID
    entra_id: EntraIdDirectory = Field(default_factory=EntraIdDirectory)
    ldaps: LdapsDirectory = Field(default_factory=LdapsDirectory)
    fields: list[ContactField] = Field(default_factory=lambda: list(ContactField))

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> OrganizationSync:
        if not self.enabled:
            return self
        if self.directory is DirectoryType.ENTRA_ID:
            needed = {"tenant_id": "tenant", "client_id": "client id", "secret": "secret"}
            needed["group_id"] = "group"
            section, values = "entra_id", self.entra_id
        else:
            needed = {"host": "host", "bind_dn": "bind account", "secret": "secret"}
            needed["base_dn"] = "base DN"
            section, values = "ldaps", self.ldaps
        for name, label in needed.items():
            if not getattr(values, name):
                raise FieldRuleError(f"{section}.{name}", f"set the {label} to enable AD sync")
        return self


class AdSyncSettings(Section):
    """Every organization's AD sync, by PSA company id."""

    organizations: dict[int, OrganizationSync] = Field(
        default_factory=dict, max_length=MAX_ORGANIZATIONS
    )

    def organization(self, company_id: int) -> OrganizationSync:
        return self.organizations.get(company_id) or OrganizationSync()
