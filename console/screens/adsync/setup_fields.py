"""The Setup tab's fields of one organization: its directory's connection and what syncs."""

from __future__ import annotations

from console.forms import Field
from console.screens.settings_page import Item
from engine.settings.adsync import ENTRA_ID_PERMISSIONS, ContactField, DirectoryType

CONTACT_FIELDS = (
    (ContactField.EMAIL, "E-mail"),
    (ContactField.TITLE, "Job title"),
    (ContactField.DEPARTMENT, "Department"),
    (ContactField.PHONE, "Business phone"),
    (ContactField.MOBILE_PHONE, "Mobile phone"),
    (ContactField.ADDRESS, "Address (street, city, state, postal code and country)"),
)
DIRECTORY_TYPES = (
    ("Microsoft Entra ID", DirectoryType.ENTRA_ID),
    ("Active Directory over LDAPS", DirectoryType.LDAPS),
)


def organization_key(company_id: int) -> str:
    return f"adsync.organizations.{company_id}"


def general_items(company_id: int) -> tuple[Item, ...]:
    key = organization_key(company_id)
    return (
        Field(f"{key}.enabled", "AD sync enabled", "switch"),
        Field(
            f"{key}.directory",
            "Directory",
            "select",
            tuple((label, str(value)) for label, value in DIRECTORY_TYPES),
        ),
    )


def entra_id_items(company_id: int) -> tuple[Item, ...]:
    key = f"{organization_key(company_id)}.entra_id"
    return (
        "Microsoft Entra ID (through Microsoft Graph)",
        Field(f"{key}.tenant_id", "Tenant id"),
        Field(
            f"{key}.client_id",
            "Client id of the app registration",
            note="Application permissions it needs, admin-consented: "
            + ", ".join(ENTRA_ID_PERMISSIONS),
        ),
        Field(
            f"{key}.secret",
            "Client secret reference",
            placeholder="env:MSEXT_SECRET_ENTRA or file:entra-client-secret",
        ),
        Field(f"{key}.secret_expires", "Client secret expires on", placeholder="YYYY-MM-DD"),
        Field(
            f"{key}.group_id",
            "Group id (its members sync, nested groups too)",
            placeholder="00000000-0000-0000-0000-000000000000",
        ),
        Field(f"{key}.graph_url", "Microsoft Graph URL"),
        Field(
            f"{key}.token_url",
            "Token URL (empty: Microsoft's for the tenant)",
            placeholder="https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token",
        ),
    )


def ldaps_items(company_id: int) -> tuple[Item, ...]:
    key = f"{organization_key(company_id)}.ldaps"
    return (
        "Active Directory over LDAPS",
        Field(f"{key}.host", "Domain controller host", placeholder="dc1.corp.example.com"),
        Field(f"{key}.port", "Port", "int"),
        Field(
            f"{key}.bind_dn",
            "Bind account",
            placeholder="svc-adsync@corp.example.com or CN=...,DC=corp,DC=example,DC=com",
        ),
        Field(
            f"{key}.secret",
            "Bind password reference",
            placeholder="env:MSEXT_SECRET_LDAP or file:ldap-bind",
        ),
        Field(f"{key}.base_dn", "Base DN", placeholder="OU=Staff,DC=corp,DC=example,DC=com"),
        Field(
            f"{key}.filters",
            "LDAP filters (one a line; a user matching any syncs)",
            "lines",
        ),
        Field(f"{key}.verify_tls", "Verify the server's certificate", "check"),
        Field(f"{key}.ca_file", "CA bundle (PEM) of the domain, if not public"),
        Field(f"{key}.timeout_seconds", "Timeout (seconds)", "int"),
    )


def contact_field_items(company_id: int) -> tuple[Item, ...]:
    return (
        "Contact fields to sync (names always sync: they match users to contacts)",
        Field(
            f"{organization_key(company_id)}.fields",
            "Fields",
            "choices",
            tuple((label, str(value)) for value, label in CONTACT_FIELDS),
        ),
    )
