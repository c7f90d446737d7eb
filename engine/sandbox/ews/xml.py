"""EWS namespaces, element helpers, and the value conversions the emulator needs."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from xml.etree import ElementTree as ET

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
E = "http://schemas.microsoft.com/exchange/services/2006/errors"

for _prefix, _uri in (("s", SOAP), ("m", M), ("t", T), ("e", E)):
    ET.register_namespace(_prefix, _uri)


def m(name: str) -> str:
    return f"{{{M}}}{name}"


def t(name: str) -> str:
    return f"{{{T}}}{name}"


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def sub(parent: ET.Element, tag: str, text: object = None, **attrs: object) -> ET.Element:
    child = ET.SubElement(parent, tag, {key: str(value) for key, value in attrs.items()})
    if text is not None:
        child.text = str(text).lower() if isinstance(text, bool) else str(text)
    return child


def child_text(parent: ET.Element | None, tag: str) -> str | None:
    if parent is None:
        return None
    found = parent.find(tag)
    return None if found is None else (found.text or "")


_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$")


def parse_datetime(text: str) -> datetime:
    """An xs:dateTime as an aware UTC datetime (no offset means UTC)."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_date(text: str) -> date:
    return date.fromisoformat(text.strip()[:10])


def format_datetime(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_datetime(text: str | None) -> bool:
    return bool(text) and bool(_DATETIME.match(text.strip()))  # type: ignore[union-attr]


def to_bytes(element: ET.Element) -> bytes:
    return ET.tostring(element, encoding="utf-8")


def from_bytes(data: bytes) -> ET.Element:
    return ET.fromstring(data)
