"""Editing stored items' XML in exchangelib's element order, and Graph's scalar formats.

exchangelib writes an item's elements in its field order; Graph's writes keep that order
(a changed element stays where it is, a new one goes where exchangelib would put it), so
an item reads the same whichever front wrote it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any
from xml.etree import ElementTree as ET

from engine.sandbox.ews.xml import local, parse_datetime, t
from engine.sandbox.graph.errors import bad_request, not_implemented


def put(
    item: ET.Element, name: str, text: str | None, order: Sequence[str], **attrs: str
) -> ET.Element:
    """Set the child ``name`` (replacing its text, attributes and children) or insert it."""
    child = item.find(t(name))
    if child is None:
        child = ET.Element(t(name))
        item.insert(insert_at(item, name, order), child)
    child.attrib.clear()
    child.attrib.update(attrs)
    for grandchild in list(child):
        child.remove(grandchild)
    child.text = text
    return child


def insert_at(item: ET.Element, name: str, order: Sequence[str]) -> int:
    """Where exchangelib would have written ``name``: before the first later field."""
    rank = order.index(name)
    for position, child in enumerate(item):
        tag = local(child.tag)
        if tag in order and order.index(tag) > rank:
            return position
    return len(item)


def drop(item: ET.Element, name: str) -> None:
    for child in item.findall(t(name)):
        item.remove(child)


def put_text(item: ET.Element, name: str, value: str | None, order: Sequence[str]) -> None:
    """A string property: set it, or remove it for null or ""."""
    if value:
        put(item, name, value, order)
    else:
        drop(item, name)


def string(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise bad_request(f"The property '{key}' must be a string.")
    return value


def strings(body: Mapping[str, Any], key: str) -> list[str]:
    value = body.get(key) or []
    if not isinstance(value, list) or not all(isinstance(entry, str) for entry in value):
        raise bad_request(f"The property '{key}' must be a list of strings.")
    return value


def nested(value: Any, name: str, allowed: frozenset[str]) -> dict[str, Any]:
    """A nested object (null as empty) whose properties the peer all implements."""
    value = value or {}
    if not isinstance(value, dict):
        raise bad_request(f"The property '{name}' must be an object.")
    for key in value:
        if key not in allowed and not key.startswith("@odata."):
            raise not_implemented(f"the property '{name}.{key}' in a request body")
    return value


def check_properties(body: Mapping[str, Any], allowed: frozenset[str], entity: str) -> None:
    for name in body:
        if name not in allowed and not name.startswith("@odata."):
            raise not_implemented(f"the {entity} property '{name}' in a request body")


def graph_time(moment: datetime, name: str = "UTC", zone: tzinfo = UTC) -> dict[str, str]:
    """A dateTimeTimeZone (in UTC unless a zone and its name are given), with Graph's seven
    fractional digits."""
    text = moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0"
    return {"dateTime": text, "timeZone": name}


def parse_graph_time(value: Any, key: str) -> datetime:
    if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
        raise bad_request(f"The property '{key}' must be a dateTimeTimeZone object.")
    zone = value.get("timeZone") or "UTC"
    if zone != "UTC":
        raise not_implemented(f"the timeZone '{zone}' (only UTC)")
    try:
        return parse_datetime(value["dateTime"])
    except ValueError:
        raise bad_request(
            f"The {key}.dateTime '{value['dateTime']}' is not a date and time."
        ) from None


def put_body(item: ET.Element, value: Any, order: Sequence[str]) -> None:
    """An itemBody: text or HTML, as exchangelib's Body and HTMLBody write it."""
    body = nested(value, "body", frozenset({"contentType", "content"}))
    kind = str(body.get("contentType") or "text").lower()
    if kind not in ("text", "html"):
        raise bad_request(f"The body contentType '{kind}' is neither text nor html.")
    content = string(body, "content") or ""
    put(item, "Body", content, order, BodyType="HTML" if kind == "html" else "Text")
