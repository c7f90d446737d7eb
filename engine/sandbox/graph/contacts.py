"""Contacts as Graph's contact JSON, and Graph's contact writes as the XML exchangelib writes."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from engine.sandbox.ews.store import StoredItem
from engine.sandbox.ews.xml import sub, t
from engine.sandbox.graph.errors import bad_request
from engine.sandbox.graph.extended import KEY, put_extended
from engine.sandbox.graph.fields import check_properties, drop, nested, put, put_text, string
from engine.sandbox.graph.ids import to_graph

ORDER = (
    "Sensitivity",
    "Body",
    "Importance",
    "ReminderIsSet",
    "ReminderMinutesBeforeStart",
    "ExtendedProperty",
    "FileAs",
    "FileAsMapping",
    "DisplayName",
    "GivenName",
    "Initials",
    "MiddleName",
    "Nickname",
    "CompleteName",
    "CompanyName",
    "EmailAddresses",
    "PhysicalAddresses",
    "PhoneNumbers",
    "AssistantName",
    "Birthday",
    "BusinessHomePage",
    "Children",
    "Companies",
    "ContactSource",
    "Department",
    "Generation",
    "ImAddresses",
    "JobTitle",
    "Manager",
    "Mileage",
    "OfficeLocation",
    "PostalAddressIndex",
    "Profession",
    "SpouseName",
    "Surname",
)
TEXT = {
    "givenName": "GivenName",
    "surname": "Surname",
    "displayName": "DisplayName",
    "companyName": "CompanyName",
    "jobTitle": "JobTitle",
}
EMAIL_KEYS = ("EmailAddress1", "EmailAddress2", "EmailAddress3")
PHONE_KEYS = ("BusinessPhone", "BusinessPhone2")
WRITABLE = frozenset((*TEXT, "emailAddresses", "businessPhones", "personalNotes", KEY))
PROPERTIES = frozenset(
    (*TEXT, "id", "changeKey", "emailAddresses", "businessPhones", "personalNotes")
)
"""What ``$select`` may name on a contact."""


def contact_json(stored: StoredItem) -> dict[str, Any]:
    item = stored.element
    data: dict[str, Any] = {
        "@odata.etag": f'W/"{stored.change_key}"',
        "id": to_graph(stored.item_id),
        "changeKey": stored.change_key,
    }
    data.update({key: item.findtext(t(name)) for key, name in TEXT.items()})
    emails = _entries(item, "EmailAddresses", EMAIL_KEYS)
    data["emailAddresses"] = [
        {"address": entry.text or "", "name": entry.get("Name", entry.text or "")}
        for entry in emails
    ]
    data["businessPhones"] = [
        entry.text or "" for entry in _entries(item, "PhoneNumbers", PHONE_KEYS)
    ]
    data["personalNotes"] = item.findtext(t("Body"), "")
    return data


def _entries(item: ET.Element, container: str, keys: tuple[str, ...]) -> list[ET.Element]:
    found = {entry.get("Key"): entry for entry in item.iterfind(f"{t(container)}/{t('Entry')}")}
    return [found[key] for key in keys if key in found]


def new_contact(body: dict[str, Any]) -> ET.Element:
    """A contact; without a display name, Exchange composes one from the names."""
    item = ET.Element(t("Contact"))
    apply_contact(item, body)
    if not item.findtext(t("DisplayName")):
        names = (item.findtext(t(name)) for name in ("GivenName", "Surname"))
        put_text(item, "DisplayName", " ".join(name for name in names if name), ORDER)
    return item


def apply_contact(item: ET.Element, body: dict[str, Any]) -> None:
    """Write a POST's or PATCH's properties into a contact, in exchangelib's order."""
    check_properties(body, WRITABLE, "contact")
    for key, name in TEXT.items():
        if key in body:
            put_text(item, name, string(body, key), ORDER)
    if "personalNotes" in body:
        notes = string(body, "personalNotes")
        if notes:
            put(item, "Body", notes, ORDER, BodyType="Text")
        else:
            drop(item, "Body")
    if "emailAddresses" in body:
        _put_emails(item, body["emailAddresses"])
    if "businessPhones" in body:
        _put_phones(item, body["businessPhones"])
    if KEY in body:
        put_extended(item, body[KEY], ORDER)


def _put_emails(item: ET.Element, value: Any) -> None:
    if not isinstance(value, list) or len(value) > len(EMAIL_KEYS):
        raise bad_request(f"'emailAddresses' is a list of at most {len(EMAIL_KEYS)} addresses.")
    drop(item, "EmailAddresses")
    if not value:
        return
    container = put(item, "EmailAddresses", None, ORDER)
    for key, entry in zip(EMAIL_KEYS, value, strict=False):
        address = nested(entry, "emailAddresses", frozenset({"address", "name"}))
        text = string(address, "address") or ""
        name = string(address, "name")
        attrs = {"Key": key, **({"Name": name} if name else {})}
        sub(container, t("Entry"), text, **attrs)


def _put_phones(item: ET.Element, value: Any) -> None:
    if not isinstance(value, list) or len(value) > len(PHONE_KEYS):
        raise bad_request(f"'businessPhones' is a list of at most {len(PHONE_KEYS)} numbers.")
    if not all(isinstance(number, str) for number in value):
        raise bad_request("'businessPhones' is a list of strings.")
    old = item.find(t("PhoneNumbers"))
    kept = [e for e in (list(old) if old is not None else []) if e.get("Key") not in PHONE_KEYS]
    drop(item, "PhoneNumbers")
    if not kept and not value:
        return
    container = put(item, "PhoneNumbers", None, ORDER)
    container.extend(kept)
    for key, number in zip(PHONE_KEYS, value, strict=False):
        sub(container, t("Entry"), number, Key=key)
