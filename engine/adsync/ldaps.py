"""On-premises Active Directory over LDAPS: the users matching any of an organization's
filters under its base DN, read with ldap3 in pages of AD's MaxPageSize.

Read-only: a simple bind as the configured account, then searches. Any failure on the way
(connection, certificate, bind, a search refused or cut) raises :class:`DirectoryError`:
the sync never mistakes a partly read directory for the scope.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import uuid
from collections.abc import Collection, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import ldap3
from ldap3.core.exceptions import LDAPException, LDAPInvalidFilterError

from engine.adsync.ldaps_certificate import certificate_status
from engine.adsync.model import CertificateStatus, CheckStep, DirectoryError, DirectoryUser
from engine.errors import UserError
from engine.paths import ProfilePaths
from engine.psa.contacts import ContactValues
from engine.settings.adsync import ContactField, LdapsDirectory, OrganizationSync
from engine.settings.secrets import resolve_secret

log = logging.getLogger(__name__)

PAGE_SIZE = 1000
"""AD's MaxPageSize: a larger page is cut to it anyway."""
PAGED_RESULTS = "1.2.840.113556.1.4.319"
ACCOUNT_DISABLED = 0x2
"""userAccountControl's ACCOUNTDISABLE flag."""
Attributes = dict[str, tuple[str, ...]]
"""ContactValues field -> AD attributes, the first one set wins."""
MATCHED_ON: Attributes = {
    "first_name": ("givenName",),
    "middle_name": ("middleName", "initials"),
    "last_name": ("sn",),
    "email": ("mail",),
}
"""Always read: matching needs them (``initials`` when there is no middle name)."""
SYNCED: dict[ContactField, Attributes] = {
    ContactField.EMAIL: {},
    ContactField.TITLE: {"title": ("title",)},
    ContactField.DEPARTMENT: {"department": ("department",)},
    ContactField.PHONE: {"phone": ("telephoneNumber",)},
    ContactField.MOBILE_PHONE: {"mobile_phone": ("mobile",)},
    ContactField.ADDRESS: {
        "street": ("streetAddress",),
        "city": ("l",),
        "state": ("st",),
        "postal_code": ("postalCode",),
        "country": ("co", "c"),
    },
}
"""What each field the organization syncs reads (the country's name ``co``, else its code
``c``)."""
IDENTITY = (
    "objectClass",
    "objectGUID",
    "sAMAccountName",
    "userPrincipalName",
    "userAccountControl",
)
_AD_BIND_REASONS = {
    "525": "no such user",
    "52e": "wrong user name or password",
    "530": "not permitted to log on at this time",
    "531": "not permitted to log on from this computer",
    "532": "password expired",
    "533": "account disabled",
    "701": "account expired",
    "773": "the password must be changed",
    "775": "account locked out",
}


def open_ldaps(
    company_id: int,
    organization: OrganizationSync,
    paths: ProfilePaths,
    today: date,
    connect_to: tuple[str, int] | None = None,
    ca_file: str | None = None,
) -> LdapsReader:
    """The organization's AD, its bind secret resolved from its reference; ``connect_to``
    and ``ca_file`` stand in for DNS and the settings' CA (the sandbox's peer). ``today`` is
    there for the same call as Entra ID's (an LDAPS bind secret has no expiry to warn of)."""
    del today
    settings = organization.ldaps
    if settings.secret is None:
        raise DirectoryError(
            f"organization {company_id}: set the bind account's secret reference on the"
            " Setup tab (ldaps.secret)"
        )
    try:
        password = resolve_secret(settings.secret, paths)
    except UserError as error:
        raise DirectoryError(str(error)) from None
    return LdapsReader(settings, organization.fields, password, connect_to, ca_file)


class LdapsReader:
    """An organization's on-premises AD (see :class:`engine.adsync.model.Directory`)."""

    def __init__(
        self,
        settings: LdapsDirectory,
        fields: Collection[ContactField],
        password: str,
        connect_to: tuple[str, int] | None = None,
        ca_file: str | None = None,
    ) -> None:
        self.settings = settings
        self._password = password
        self._read: Attributes = MATCHED_ON | {
            value: names for field in fields for value, names in SYNCED[field].items()
        }
        self._attributes = sorted({*IDENTITY, *(n for names in self._read.values() for n in names)})
        self._target = connect_to or (settings.host, settings.port)
        """Where to connect; the certificate is still checked against ``settings.host``."""
        self._ca_file_override = ca_file
        self._connection: ldap3.Connection | None = None
        if not settings.verify_tls:
            log.warning(
                "the LDAPS certificate of %s is not verified (verify_tls is off): anyone on"
                " the path can read the bind password",
                settings.host,
            )

    @property
    def address(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def users(self) -> Iterator[DirectoryUser]:
        connection = self._bound()
        seen: set[str] = set()
        for search_filter in self.settings.filters:
            for entry in self._search(connection, search_filter, self._attributes):
                user = _directory_user(entry["raw_attributes"], self._read)
                if user is not None and user.directory_id not in seen:
                    seen.add(user.directory_id)
                    yield user

    def check(self) -> Iterator[CheckStep]:
        """Each step of *Test connection*, ending at the first failure."""
        for step in (self._check_tcp, self._check_certificate, self._check_bind):
            result = step()
            yield result
            if not result.ok:
                return
        connection = self._bound()
        try:
            found = self._search(connection, "(objectClass=*)", ["1.1"], ldap3.BASE)
            sum(1 for _ in found)
        except DirectoryError as error:
            yield CheckStep("Base DN", False, str(error))
            return
        yield CheckStep("Base DN", True, f"{self.settings.base_dn} exists")
        for number, search_filter in enumerate(self.settings.filters, 1):
            try:
                count = sum(1 for _ in self._search(connection, search_filter, ["1.1"]))
            except DirectoryError as error:
                yield CheckStep(f"Filter {number}", False, str(error))
                return
            yield CheckStep(f"Filter {number}", True, f"{search_filter}: {count} entries")

    def certificate_status(self) -> CertificateStatus:
        try:
            return certificate_status(
                self._target, self.settings.host, self._ca_file(), self._timeout
            )
        except OSError as error:  # ssl.SSLError included
            raise DirectoryError(f"no TLS answer from {self.address}: {_reason(error)}") from None

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(LDAPException):  # gone already: nothing to close
                connection.unbind()

    @property
    def _timeout(self) -> int:
        """Whole seconds: ldap3 packs the receive timeout into a socket option."""
        return self.settings.timeout_seconds

    def _check_tcp(self) -> CheckStep:
        try:
            socket.create_connection(self._target, timeout=self._timeout).close()
        except OSError as error:
            return CheckStep("TCP connect", False, f"{self.address}: {_reason(error)}")
        return CheckStep("TCP connect", True, f"{self.address} answers")

    def _check_certificate(self) -> CheckStep:
        try:
            status = self.certificate_status()
        except DirectoryError as error:
            return CheckStep("TLS certificate", False, str(error))
        if not status.valid and not self.settings.verify_tls:
            return CheckStep(
                "TLS certificate", True, f"{status.detail} (not verified: verify_tls is off)"
            )
        return CheckStep("TLS certificate", status.valid, status.detail)

    def _check_bind(self) -> CheckStep:
        try:
            self._bound()
        except DirectoryError as error:
            return CheckStep("Bind", False, str(error))
        return CheckStep("Bind", True, f"bound as {self.settings.bind_dn}")

    def _ca_file(self) -> str | None:
        ca_file = self._ca_file_override or self.settings.ca_file
        if ca_file and not Path(ca_file).is_file():
            raise DirectoryError(f"the CA file {ca_file} (ldaps.ca_file) does not exist")
        return ca_file or None

    def _bound(self) -> ldap3.Connection:
        """The bound connection, opened on first use."""
        if self._connection is not None:
            return self._connection
        settings = self.settings
        tls = ldap3.Tls(
            validate=ssl.CERT_REQUIRED if settings.verify_tls else ssl.CERT_NONE,
            ca_certs_file=self._ca_file(),
            valid_names=[settings.host],
            sni=settings.host,
        )
        server = ldap3.Server(
            self._target[0],
            port=self._target[1],
            use_ssl=True,
            tls=tls,
            get_info=ldap3.NONE,
            connect_timeout=self._timeout,
        )
        connection = ldap3.Connection(
            server,
            user=settings.bind_dn,
            password=self._password,
            receive_timeout=self._timeout,
            auto_referrals=False,
            read_only=True,
        )
        try:
            bound = connection.bind()
        except LDAPException as error:
            raise self._connect_error(error) from None
        if not bound:
            raise DirectoryError(_bind_failure(settings.bind_dn, connection.result))
        self._connection = connection
        return connection

    def _connect_error(self, error: LDAPException) -> DirectoryError:
        """One line on why the connection failed; a refused certificate says why."""
        if "certificate" in str(error).lower() and self.settings.verify_tls:
            try:
                status = self.certificate_status()
            except DirectoryError as unreachable:
                return unreachable
            if not status.valid:
                return DirectoryError(
                    f"the LDAPS certificate of {self.address} is refused: {status.detail}"
                )
        return DirectoryError(f"cannot connect to {self.address} over LDAPS: {_reason(error)}")

    def _search(
        self,
        connection: ldap3.Connection,
        search_filter: str,
        attributes: list[str],
        scope: str = ldap3.SUBTREE,
    ) -> Iterator[dict[str, Any]]:
        """Every entry, page after page; a refused or cut search raises."""
        cookie: bytes | None = None
        while True:
            try:
                connection.search(
                    self.settings.base_dn,
                    search_filter,
                    scope,
                    attributes=attributes,
                    paged_size=PAGE_SIZE,
                    paged_cookie=cookie,
                )
            except LDAPInvalidFilterError:
                raise DirectoryError(f"the filter {search_filter} is not valid LDAP") from None
            except LDAPException as error:
                raise DirectoryError(f"reading {self.address} failed: {_reason(error)}") from None
            result = connection.result
            if result["result"] != 0:
                raise DirectoryError(_search_failure(self.settings.base_dn, search_filter, result))
            yield from (e for e in connection.response if e["type"] == "searchResEntry")
            control = (result.get("controls") or {}).get(PAGED_RESULTS)
            cookie = control["value"]["cookie"] if control else None
            if not cookie:
                return


def _directory_user(raw: dict[str, list[bytes]], read: Attributes) -> DirectoryUser | None:
    """The user an entry holds; None for an entry that is no person (a group, an OU)."""
    classes = {value.decode().lower() for value in raw.get("objectClass", [])}
    guid = raw.get("objectGUID")
    if not guid or not classes & {"user", "person", "inetorgperson"}:
        return None

    def first(*names: str) -> str:
        for name in names:
            if values := raw.get(name):
                return values[0].decode("utf-8", "replace").strip()
        return ""

    values = ContactValues(**{field: first(*names) for field, names in read.items()})
    flags = first("userAccountControl")
    return DirectoryUser(
        directory_id=str(uuid.UUID(bytes_le=guid[0])),
        login=first("sAMAccountName", "userPrincipalName"),
        values=values,
        enabled=not (flags.isdigit() and int(flags) & ACCOUNT_DISABLED),
    )


def _bind_failure(bind_dn: str, result: dict[str, Any]) -> str:
    """``invalid credentials for svc@x (AD: wrong user name or password, data 52e)``."""
    message = result.get("message") or ""
    reason = result.get("description") or f"result {result.get('result')}"
    if " data " in message:
        code = message.split(" data ")[1].split(",")[0].strip()
        return f"cannot bind as {bind_dn}: {_AD_BIND_REASONS.get(code, reason)} (AD data {code})"
    return f"cannot bind as {bind_dn}: {reason}"


def _search_failure(base_dn: str, search_filter: str, result: dict[str, Any]) -> str:
    if result.get("description") == "noSuchObject":
        return f"the base DN {base_dn} does not exist"
    detail = (result.get("message") or "").split(",")[0]
    return f"searching {search_filter} under {base_dn} failed: {result.get('description')}" + (
        f" ({detail})" if detail else ""
    )


def _reason(error: BaseException) -> str:
    text = getattr(error, "strerror", None) or str(error)
    return " ".join(str(text).split())
