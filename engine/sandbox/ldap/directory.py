"""The LDAP peer's data: a domain laid out as Active Directory lays it out, on ldaptor's
in-memory tree, with AD's attribute names and the filter semantics AD adds to LDAP's.

Seeded from AD Sync's own :class:`DirectoryUser` (what the demo and tests say a directory
holds), so a user written here reads back through the LDAPS reader as the same user.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from ldaptor.entryhelpers import MatchMixin
from ldaptor.inmemory import ReadOnlyInMemoryLDAPEntry
from ldaptor.protocols import pureldap
from ldaptor.protocols.ldap.distinguishedname import DistinguishedName

from engine.adsync.model import DirectoryUser
from engine.psa.contacts import ContactValues

ACCOUNT_DISABLED = 0x2
NORMAL_ACCOUNT = 0x200
BIT_AND = "1.2.840.113556.1.4.803"
BIT_OR = "1.2.840.113556.1.4.804"
"""AD's bitwise matching rules, as in ``(!(userAccountControl:1.2.840.113556.1.4.803:=2))``."""

_AD_ATTRIBUTES = {
    "first_name": "givenName",
    "middle_name": "middleName",
    "last_name": "sn",
    "email": "mail",
    "title": "title",
    "department": "department",
    "phone": "telephoneNumber",
    "mobile_phone": "mobile",
    "street": "streetAddress",
    "city": "l",
    "state": "st",
    "postal_code": "postalCode",
    "country": "co",
}
"""ContactValues field -> the AD attribute that holds it."""
_COUNTRY_CODES = {"united states": "US", "germany": "DE", "united kingdom": "GB"}


@dataclass(frozen=True)
class AdUser:
    """A user account as the peer holds it: the directory user, the groups it is a member
    of (by common name) and its organizational unit."""

    user: DirectoryUser
    groups: tuple[str, ...] = ()
    ou: str = "Staff"


def object_guid(directory_id: str) -> bytes:
    """The 16 bytes of the user's objectGUID in AD's (little-endian) order; an id that is
    no GUID is given a stable one."""
    try:
        value = uuid.UUID(directory_id)
    except ValueError:
        value = uuid.uuid5(uuid.NAMESPACE_OID, directory_id)
    return value.bytes_le


class AdEntry(ReadOnlyInMemoryLDAPEntry):
    """An entry that matches filters as a domain controller does: ``objectCategory=person``
    names the category by its short name, and the bitwise matching rules test flags."""

    def match(self, filter: pureldap.LDAPFilter) -> bool:
        if isinstance(filter, pureldap.LDAPFilter_equalityMatch):
            attribute = text(filter.attributeDesc.value).lower()
            wanted = text(filter.assertionValue.value).lower()
            if attribute == "objectcategory" and "=" not in wanted:
                return any(_category(value) == wanted for value in self.get("objectCategory", []))
        if isinstance(filter, pureldap.LDAPFilter_substrings):
            return self._substrings(filter)
        if isinstance(filter, pureldap.LDAPFilter_greaterOrEqual | pureldap.LDAPFilter_lessOrEqual):
            return self._ordering(filter)
        if isinstance(filter, pureldap.LDAPFilter_extensibleMatch) and filter.matchingRule:
            return self._bitwise(filter)
        if isinstance(filter, pureldap.LDAPFilter_and):
            return all(self.match(part) for part in filter)
        if isinstance(filter, pureldap.LDAPFilter_or):
            return any(self.match(part) for part in filter)
        if isinstance(filter, pureldap.LDAPFilter_not):
            return not self.match(filter.value)
        return MatchMixin.match(self, filter)

    def _substrings(self, filter: pureldap.LDAPFilter_substrings) -> bool:
        """ldaptor compares the filter's bytes with the entry's text here: matched as text."""
        parts = []
        for part in filter.substrings:
            piece = re.escape(text(part.value))
            if isinstance(part, pureldap.LDAPFilter_substrings_initial):
                parts.append(f"^{piece}")
            elif isinstance(part, pureldap.LDAPFilter_substrings_final):
                parts.append(f"{piece}$")
            else:
                parts.append(piece)
        pattern = re.compile(".*".join(parts), re.IGNORECASE | re.DOTALL)
        return any(pattern.search(text(value)) for value in self.get(text(filter.type), []))

    def _ordering(
        self, filter: pureldap.LDAPFilter_greaterOrEqual | pureldap.LDAPFilter_lessOrEqual
    ) -> bool:
        """Integers compare as numbers (AD's integer syntax), the rest as text."""
        bound = _ordered(text(filter.assertionValue.value))
        at_least = isinstance(filter, pureldap.LDAPFilter_greaterOrEqual)
        for raw in self.get(text(filter.attributeDesc.value), []):
            value = _ordered(text(raw))
            if type(value) is type(bound) and (value >= bound if at_least else value <= bound):
                return True
        return False

    def _bitwise(self, filter: pureldap.LDAPFilter_extensibleMatch) -> bool:
        rule = text(filter.matchingRule.value)
        if rule not in (BIT_AND, BIT_OR) or filter.type is None:
            return False  # AD treats an unknown rule as Undefined: the entry does not match
        mask = int(text(filter.matchValue.value))
        for value in self.get(text(filter.type.value), []):
            flags = int(text(value))
            if (flags & mask == mask) if rule == BIT_AND else bool(flags & mask):
                return True
        return False


def is_disabled(entry: AdEntry) -> bool:
    return any(int(text(flags)) & ACCOUNT_DISABLED for flags in entry.get("userAccountControl", []))


class AdDomain:
    """The domain's tree: ``OU=<ou>`` containers of user accounts, ``OU=Groups``, and the
    service accounts that bind, with the indexes a bind needs (by DN, UPN, sAMAccountName)."""

    def __init__(self, base_dn: str, domain: str) -> None:
        self.base_dn = base_dn
        self.domain = domain
        self.netbios = domain.split(".")[0].upper()
        self.root = AdEntry(base_dn, {"objectClass": ["top", "domain", "domainDNS"]})
        self.passwords: dict[str, str] = {}
        """Lower-case DN -> password (never an attribute: AD does not return it)."""
        self._accounts: dict[str, AdEntry] = {}
        """Lower-case DN, UPN and DOMAIN\\sam -> the account's entry."""
        self._by_id: dict[str, AdEntry] = {}
        self._containers: dict[str, AdEntry] = {}

    def account(self, name: str) -> AdEntry | None:
        return self._accounts.get(name.lower())

    def add_service_account(self, name: str, password: str, enabled: bool = True) -> str:
        """A bind account named by its UPN (then under ``CN=Users``, AD's default
        container) or by its DN one level under the domain; returns its DN."""
        if "=" in name:
            rdns = DistinguishedName(name).split()
            login, container = text(rdns[0].split()[0].value), rdns[1].getText()
        else:
            container, login = "CN=Users", name
        account = DirectoryUser(
            f"service:{name}", login, ContactValues(first_name=login.split("@")[0]), enabled
        )
        entry = self._add(AdUser(account), self._container(container))
        self.passwords[entry.dn.getText().lower()] = password
        return entry.dn.getText()

    def put(self, users: Iterable[AdUser]) -> None:
        """Add users, or replace those with the same directory id."""
        for user in users:
            self.remove(user.user.directory_id)
            self._by_id[user.user.directory_id] = self._add(user, self._container(f"OU={user.ou}"))

    @property
    def user_count(self) -> int:
        """Users put in the domain (the bind accounts aside)."""
        return len(self._by_id)

    def remove(self, directory_id: str) -> None:
        entry = self._by_id.pop(directory_id, None)
        if entry is None:
            return
        entry.parent()._deleteChild(entry.dn.split()[0])
        for name in [key for key, value in self._accounts.items() if value is entry]:
            del self._accounts[name]

    def _add(self, ad_user: AdUser, parent: AdEntry) -> AdEntry:
        user = ad_user.user
        sam = user.login.split("@")[0][:20]
        values = user.values
        display = " ".join(p for p in (values.first_name, values.last_name) if p) or sam
        rdn = f"CN={_escape(display)}"
        if rdn in parent._children:
            rdn = f"CN={_escape(f'{display} ({sam})')}"
        flags = NORMAL_ACCOUNT | (0 if user.enabled else ACCOUNT_DISABLED)
        attributes: dict[str, list[str | bytes]] = {
            "objectClass": ["top", "person", "organizationalPerson", "user"],
            "objectCategory": [f"CN=Person,CN=Schema,CN=Configuration,{self.base_dn}"],
            "objectGUID": [object_guid(user.directory_id)],
            "sAMAccountName": [sam],
            "userPrincipalName": [user.login if "@" in user.login else f"{sam}@{self.domain}"],
            "displayName": [display],
            "userAccountControl": [str(flags)],
        }
        for field, attribute in _AD_ATTRIBUTES.items():
            if value := getattr(values, field):
                attributes[attribute] = [value]
        if values.middle_name:
            attributes["initials"] = [values.middle_name[0]]
        if code := _COUNTRY_CODES.get(values.country.lower()):
            attributes["c"] = [code]
        if ad_user.groups:
            attributes["memberOf"] = [self._group(name) for name in ad_user.groups]
        entry = parent.addChild(rdn, attributes)
        for name in (
            entry.dn.getText(),
            attributes["userPrincipalName"][0],
            f"{self.netbios}\\{sam}",
        ):
            self._accounts[str(name).lower()] = entry
        return entry

    def _container(self, rdn: str) -> AdEntry:
        if rdn not in self._containers:
            kind = "organizationalUnit" if rdn.startswith("OU=") else "container"
            self._containers[rdn] = self.root.addChild(rdn, {"objectClass": ["top", kind]})
        return self._containers[rdn]

    def _group(self, name: str) -> str:
        """The group's DN under ``OU=Groups`` (created on first use)."""
        groups = self._container("OU=Groups")
        rdn = f"CN={_escape(name)}"
        if rdn not in groups._children:
            groups.addChild(rdn, {"objectClass": ["top", "group"], "cn": [name]})
        return groups._children[rdn].dn.getText()


def base_dn_of(domain: str) -> str:
    """``contoso.example`` -> ``DC=contoso,DC=example``."""
    return ",".join(f"DC={part}" for part in domain.split("."))


def _ordered(value: str) -> int | str:
    return int(value) if value.lstrip("-").isdigit() else value.lower()


@functools.cache
def _category(value: str | bytes) -> str:
    """``CN=Person,CN=Schema,...`` -> ``person`` (parsed once: every user has the same)."""
    return str(DistinguishedName(text(value)).split()[0].split()[0].value).lower()


def _escape(value: str) -> str:
    for special in '\\,+"<>;=#':
        value = value.replace(special, "\\" + special)
    return value


def text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value
