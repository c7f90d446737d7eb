"""Single-value extended properties: Graph's ``String {guid} Name x`` ids over EWS's
``t:ExtendedProperty`` elements, and the ``$expand`` that asks for them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from xml.etree import ElementTree as ET

from engine.sandbox.ews.xml import sub, t
from engine.sandbox.graph.errors import bad_request, not_implemented
from engine.sandbox.graph.fields import insert_at

KEY = "singleValueExtendedProperties"
_NAMED = re.compile(r"^String \{([0-9a-fA-F-]{36})\} Name (\S+)$", re.IGNORECASE)
_EXPAND = re.compile(rf"^{KEY}(?:\(\$filter=(.*)\))?$", re.IGNORECASE | re.DOTALL)
_CLAUSE = re.compile(r"^\s*id\s+eq\s+'(.*)'\s*$", re.IGNORECASE)
_DISTINGUISHED = {
    "PublicStrings": "00020329-0000-0000-c000-000000000046",
    "Common": "00062008-0000-0000-c000-000000000046",
    "Address": "00062004-0000-0000-c000-000000000046",
    "Appointment": "00062002-0000-0000-c000-000000000046",
    "Task": "00062003-0000-0000-c000-000000000046",
    "InternetHeaders": "00020386-0000-0000-c000-000000000046",
    "Meeting": "6ed8da90-450b-101b-98da-00aa003f1305",
    "Sharing": "00062040-0000-0000-c000-000000000046",
}


def property_id(uri: ET.Element) -> str | None:
    """Graph's id of an EWS ExtendedFieldURI; None for a multi-value (array) property."""
    kind = uri.get("PropertyType", "String")
    if kind.endswith("Array"):
        return None
    if uri.get("PropertyTag"):
        return f"{kind} {uri.get('PropertyTag')}"
    guid = uri.get("PropertySetId") or _DISTINGUISHED.get(uri.get("DistinguishedPropertySetId", ""))
    if guid and uri.get("PropertyName"):
        return f"{kind} {{{guid}}} Name {uri.get('PropertyName')}"
    if guid and uri.get("PropertyId"):
        return f"{kind} {{{guid}}} Id {int(uri.get('PropertyId', '0')):#x}"
    return None


def _normal(value: str) -> str:
    return " ".join(value.split()).lower()


def extended_json(item: ET.Element, wanted: frozenset[str] | None) -> list[dict[str, str]]:
    """The item's properties as Graph lists them; ``wanted`` (normalised ids) narrows them."""
    found = []
    for prop in item.findall(t("ExtendedProperty")):
        uri = prop.find(t("ExtendedFieldURI"))
        name = property_id(uri) if uri is not None else None
        if name is not None and (wanted is None or _normal(name) in wanted):
            found.append({"id": name, "value": prop.findtext(t("Value"), "")})
    return found


def expanded_ids(expand: str) -> frozenset[str] | None:
    """The ids a ``$expand`` of the extended properties asks for; None for all of them."""
    found = _EXPAND.match(expand.strip())
    if found is None:
        raise not_implemented(f"$expand={expand}")
    if found.group(1) is None:
        return None
    wanted = set()
    for clause in re.split(r"\s+or\s+", found.group(1).strip(), flags=re.IGNORECASE):
        match = _CLAUSE.match(clause)
        if match is None:
            raise not_implemented(f"the $filter '{clause}' in $expand")
        wanted.add(_normal(match.group(1)))
    return frozenset(wanted)


def put_extended(item: ET.Element, entries: Any, order: Sequence[str]) -> None:
    """Set String named properties from a body's list (others are not implemented)."""
    if not isinstance(entries, list):
        raise bad_request(f"The property '{KEY}' must be a list.")
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("value"), str):
            raise bad_request(f"Each of '{KEY}' needs an id and a string value.")
        match = _NAMED.match(str(entry.get("id", "")).strip())
        if match is None:
            raise not_implemented(f"the extended property id '{entry.get('id')}'")
        guid, name = match.groups()
        existing = next(
            (prop for prop in item.findall(t("ExtendedProperty")) if _same(prop, guid, name)), None
        )
        if existing is not None:
            for value in existing.findall(t("Value")):
                value.text = entry["value"]
            continue
        prop = ET.Element(t("ExtendedProperty"))
        sub(
            prop,
            t("ExtendedFieldURI"),
            PropertySetId=guid,
            PropertyName=name,
            PropertyType="String",
        )
        sub(prop, t("Value"), entry["value"])
        item.insert(insert_at(item, "ExtendedProperty", order), prop)


def _same(prop: ET.Element, guid: str, name: str) -> bool:
    uri = prop.find(t("ExtendedFieldURI"))
    return uri is not None and (
        uri.get("PropertySetId", "").lower(),
        uri.get("PropertyName", "").lower(),
    ) == (
        guid.lower(),
        name.lower(),
    )
