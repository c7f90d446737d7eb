"""Microsoft Entra ID as an AD Sync directory: the transitive users of one group, read over
Microsoft Graph with the app registration's sign-in (client secret or certificate).

One listing, ``groups/{id}/transitiveMembers/microsoft.graph.user``, in pages of 999 (Graph's
most) with ``$select`` of only what the organization syncs, followed by its nextLinks. A
page that fails fails the whole read (:class:`DirectoryError`): a short read taken for the
scope would make the missing users' contacts inactive. Graph's user has no middle name, so
an Entra ID user's is always blank.

The application permissions it needs (:data:`ENTRA_ID_PERMISSIONS`): User.Read.All, to read
the users' properties (without it Graph still lists the members, but only their ids), and
GroupMember.Read.All, to list the group's members.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from datetime import date
from typing import Any
from urllib.parse import quote, urlencode

from engine.adsync.model import CheckStep, DirectoryError, DirectoryUser
from engine.adsync.secret_expiry import secret_expiry_warning
from engine.errors import UserError
from engine.graph.http import GraphClient, GraphRequest, GraphResponse
from engine.paths import ProfilePaths
from engine.psa.contacts import ContactValues
from engine.settings.adsync import (
    GRAPH_GROUP_PERMISSION,
    GRAPH_USER_PERMISSION,
    ContactField,
    EntraIdDirectory,
    OrganizationSync,
)
from engine.settings.secrets import resolve_secret

PAGE_SIZE = 999
"""Graph's largest page of a group's members."""
MATCHED_ON = {"first_name": "givenName", "last_name": "surname", "email": "mail"}
"""What matching needs, read whichever fields the organization syncs."""
SYNCED = {
    ContactField.EMAIL: {"email": "mail"},
    ContactField.TITLE: {"title": "jobTitle"},
    ContactField.DEPARTMENT: {"department": "department"},
    ContactField.PHONE: {"phone": "businessPhones"},
    ContactField.MOBILE_PHONE: {"mobile_phone": "mobilePhone"},
    ContactField.ADDRESS: {
        "street": "streetAddress",
        "city": "city",
        "state": "state",
        "postal_code": "postalCode",
        "country": "country",
    },
}
"""The Graph user properties behind each contact field (contact value -> property)."""
_IDENTITY = ("id", "userPrincipalName", "accountEnabled")
_SETUP_TAB = "the organization's Setup tab"
_SETUP = f"on {_SETUP_TAB}"


def read_properties(fields: Collection[ContactField]) -> dict[str, str]:
    """Contact value -> Graph property, for what matching needs and the fields synced."""
    wanted = dict(MATCHED_ON)
    for contact_field in fields:
        wanted |= SYNCED[contact_field]
    return wanted


def open_entra_id(
    company_id: int,
    organization: OrganizationSync,
    paths: ProfilePaths,
    today: date,
    graph_url: str | None = None,
    token_url: str | None = None,
) -> EntraIdReader:
    """The organization's Entra ID directory, its secret resolved from its reference (a
    client secret, or a PEM certificate with its key); the URLs override the settings'
    (the sandbox's emulator)."""
    settings = organization.entra_id
    if settings.secret is None:
        raise DirectoryError(f"set the client secret reference {_SETUP}")
    try:
        secret = resolve_secret(settings.secret, paths)
    except UserError as error:
        raise DirectoryError(str(error)) from None
    return EntraIdReader(
        company_id, settings, organization.fields, secret, today, graph_url, token_url
    )


class EntraIdReader:
    """One organization's Entra ID group, read-only (a :class:`~engine.adsync.model.Directory`)."""

    def __init__(
        self,
        company_id: int,
        settings: EntraIdDirectory,
        fields: Collection[ContactField],
        secret: str,
        today: date,
        graph_url: str | None = None,
        token_url: str | None = None,
    ) -> None:
        self.settings = settings
        self.today = today
        self.values = read_properties(fields)
        self._where = f"the Entra ID group {settings.group_id}"
        try:
            self._client = GraphClient(
                base_url=graph_url or settings.graph_url,
                token_url=token_url or settings.token_endpoint(),
                client_id=settings.client_id,
                secret=secret,
                limits=settings.http_limits(company_id),
                connections=1,
                settings_place=_SETUP_TAB,
            )
        except UserError as error:
            raise DirectoryError(str(error)) from None

    def close(self) -> None:
        self._client.close()

    def users(self) -> Iterator[DirectoryUser]:
        """Every user of the group and its nested groups, once each, disabled ones flagged."""
        query = {"$select": ",".join((*_IDENTITY, *self.values.values())), "$top": PAGE_SIZE}
        link: str | None = f"{self._group_path()}/transitiveMembers/microsoft.graph.user?" + (
            urlencode(query, safe="$,", quote_via=quote)
        )
        page = 0
        while link:
            page += 1
            body = self._json(link, GRAPH_GROUP_PERMISSION, f"page {page} of its members")
            entries = body.get("value")
            next_link = body.get("@odata.nextLink")
            if not isinstance(entries, list) or not isinstance(next_link, str | None):
                raise DirectoryError(
                    f"Microsoft Graph answered page {page} of the members of {self._where}"
                    " without its list of users; nothing was synced"
                )
            yield from (self._user(entry) for entry in entries)
            link = next_link

    def check(self) -> Iterator[CheckStep]:
        """Sign-in, each permission, the group, its members; the first failure ends it."""
        steps: list[tuple[str, Callable[[], Iterator[CheckStep]]]] = [
            ("Sign-in", self._check_sign_in),
            (f"Permission {GRAPH_USER_PERMISSION}", self._check_user_permission),
            (f"Permission {GRAPH_GROUP_PERMISSION}", self._check_group),
            ("Members", self._check_members),
        ]
        for name, step in steps:
            try:
                for result in step():
                    yield result
                    if not result.ok:
                        return
            except DirectoryError as error:
                yield CheckStep(name, False, str(error))
                return

    # -- the steps of Test connection ------------------------------------------------------

    def _check_sign_in(self) -> Iterator[CheckStep]:
        try:
            self._client.token()
        except UserError as error:
            yield CheckStep("Sign-in", False, str(error))
            return
        detail = f"app {self.settings.client_id} signed in to tenant {self.settings.tenant_id}"
        warning = secret_expiry_warning(self.settings.secret_expires, self.today)
        yield CheckStep("Sign-in", True, f"{detail}. {warning}" if warning else detail)

    def _check_user_permission(self) -> Iterator[CheckStep]:
        name = f"Permission {GRAPH_USER_PERMISSION}"
        response = self._send("/users?$select=id&$top=1")
        if response.ok:
            yield CheckStep(name, True, "the app may read users")
        else:
            yield CheckStep(name, False, self._refusal(response, GRAPH_USER_PERMISSION, "users"))

    def _check_group(self) -> Iterator[CheckStep]:
        name = f"Permission {GRAPH_GROUP_PERMISSION}"
        response = self._send(f"{self._group_path()}?$select=id,displayName")
        if response.status == 403:
            yield CheckStep(name, False, self._refusal(response, GRAPH_GROUP_PERMISSION, "it"))
            return
        yield CheckStep(name, True, "the app may read groups and their members")
        if not response.ok:
            yield CheckStep("Group", False, self._refusal(response, GRAPH_GROUP_PERMISSION, "it"))
            return
        shown = response.body.get("displayName") if isinstance(response.body, dict) else None
        yield CheckStep("Group", True, f"{shown or 'unnamed'} ({self.settings.group_id})")

    def _check_members(self) -> Iterator[CheckStep]:
        users = list(self.users())
        disabled = sum(not user.enabled for user in users)
        detail = f"{len(users):,} users in the group and its nested groups ({disabled:,} disabled)"
        yield CheckStep("Members", True, detail)

    # -- requests --------------------------------------------------------------------------

    def _group_path(self) -> str:
        return "/groups/" + quote(self.settings.group_id, safe="")

    def _send(self, url: str) -> GraphResponse:
        try:
            return self._client.send(GraphRequest("GET", url), self._where)
        except UserError as error:
            raise DirectoryError(str(error)) from None

    def _json(self, url: str, permission: str, what: str) -> dict[str, Any]:
        response = self._send(url)
        if not response.ok:
            raise DirectoryError(self._refusal(response, permission, what))
        if not isinstance(response.body, dict):
            raise DirectoryError(
                f"Microsoft Graph answered {what} of {self._where} with no JSON object"
            )
        return response.body

    def _refusal(self, response: GraphResponse, permission: str, what: str) -> str:
        """Graph's refusal as what the administrator should correct."""
        code, message = response.error
        if response.status == 401:
            return (
                "Microsoft Graph refused the app registration's token: check the tenant id,"
                f" client id and secret {_SETUP}"
            )
        if response.status == 403:
            return _missing(permission)
        group = self.settings.group_id
        if response.status == 404:
            return f"Entra ID has no group {group}: check the group id {_SETUP}"
        if code == "Request_BadRequest" and "identifier" in message:
            return f"the group id {group} is no Entra ID object id (a GUID): correct it {_SETUP}"
        return (
            f"Microsoft Graph refused {what} of {self._where}: {response.status} {code}"
            f" {message}".rstrip()
        )

    def _user(self, entry: Any) -> DirectoryUser:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            raise DirectoryError(f"Microsoft Graph listed a member of {self._where} without an id")
        login = entry.get("userPrincipalName")
        if not isinstance(login, str):
            # Graph lists the members of a token that may not read users, ids only.
            raise DirectoryError(_missing(GRAPH_USER_PERMISSION))
        values = {name: _text(entry.get(prop)) for name, prop in self.values.items()}
        return DirectoryUser(
            directory_id=entry["id"],
            login=login,
            values=ContactValues(**values),
            enabled=entry.get("accountEnabled") is not False,
        )


def _missing(permission: str) -> str:
    return (
        f"the app registration lacks the application permission {permission}: add it under"
        " API permissions in Entra ID and grant admin consent"
    )


def _text(value: Any) -> str:
    """A property as a contact value: null is blank, a list (businessPhones) its first."""
    if isinstance(value, list):
        value = next((item for item in value if isinstance(item, str) and item.strip()), "")
    return value.strip() if isinstance(value, str) else ""
