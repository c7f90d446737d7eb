"""AD Sync's contact values as the REST API's Contacts entity holds them.

Contacts are children of Companies: they are queried at ``Contacts/query`` by
``companyID`` and written at ``Companies/{id}/Contacts`` (POST creates, PATCH updates the
fields it names). What the entity cannot represent, and how it is handled:

- **department**: the entity has no such field; it is never written and reads blank
  (:func:`stored` blanks it, so a directory's department is not planned on every run);
- **longer values than the entity's fields** (a middle name beyond ``middleInitial``'s 50
  characters, a street beyond ``addressLine``'s 128, ...) are cut to the field's length
  before they are written, and compared cut;
- **country** is ``countryID``, an id of the Countries entity: a directory's country is
  matched by the country's name, display name or two-letter code (case-insensitive) and
  reads back as its display name; a country the PSA does not list is not written.

``isActive`` is an integer (1 active, 0 inactive), as the entity declares it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from engine.psa.contacts import ContactValues

API_FIELDS: dict[str, tuple[str, int]] = {
    "first_name": ("firstName", 50),
    "middle_name": ("middleInitial", 50),
    "last_name": ("lastName", 50),
    "email": ("emailAddress", 254),
    "title": ("title", 50),
    "phone": ("phone", 25),
    "mobile_phone": ("mobilePhone", 25),
    "street": ("addressLine", 128),
    "city": ("city", 32),
    "state": ("state", 40),
    "postal_code": ("zipCode", 16),
}
"""ContactValues field -> (the Contacts entity's field, its length), besides country."""
REQUIRED_ON_CREATE = ("companyID", "firstName", "lastName", "isActive")


class Countries:
    """The PSA's Countries entity, read once on first use."""

    def __init__(self, read: Callable[[], Iterable[dict[str, Any]]]) -> None:
        self._read = read
        self._names: dict[int, str] | None = None
        self._ids: dict[str, int] = {}

    def _load(self) -> dict[int, str]:
        if self._names is None:
            names: dict[int, str] = {}
            for item in self._read():
                names[item["id"]] = item["displayName"] or item["name"]
                for key in (item["countryCode"], item["name"], item["displayName"]):
                    if key:
                        self._ids.setdefault(key.casefold(), item["id"])
            self._names = names
        return self._names

    def name(self, country_id: int | None) -> str:
        return "" if country_id is None else self._load().get(country_id, "")

    def id(self, country: str) -> int | None:
        if not country.strip():
            return None
        self._load()
        return self._ids.get(country.strip().casefold())


def stored(values: ContactValues, countries: Countries) -> ContactValues:
    """``values`` as the entity keeps them (see the module's docstring)."""
    cut = {name: getattr(values, name)[:length] for name, (_, length) in API_FIELDS.items()}
    return replace(
        values, **cut, department="", country=countries.name(countries.id(values.country))
    )


def contact_values(item: Mapping[str, Any], countries: Countries) -> ContactValues:
    """A Contacts item's values (the API's nulls are blanks)."""
    found = {name: item[field] or "" for name, (field, _) in API_FIELDS.items()}
    return ContactValues(**found, country=countries.name(item["countryID"]))


def api_fields(values: Mapping[str, str], countries: Countries) -> dict[str, Any]:
    """The entity's fields for these stored values (ContactValues field -> value)."""
    fields = {API_FIELDS[name][0]: value for name, value in values.items() if name in API_FIELDS}
    if "country" in values:
        fields["countryID"] = countries.id(values["country"])
    return fields
