"""The emulator's tables of element order are the official schema's."""

from __future__ import annotations

import pytest
from lxml import etree

from engine.sandbox.ews.schema_order import ORDER
from tests.ews_schema import HERE, XS

TYPES = {
    "Item": "ItemType",
    "CalendarItem": "CalendarItemType",
    "Contact": "ContactItemType",
    "Task": "TaskType",
    "Message": "MessageType",
}


def _sequence(types: etree._ElementTree, name: str) -> tuple[str, ...]:
    """A complex type's elements in order, its base type's first."""
    (complex_type,) = types.xpath(
        f"/xs:schema/xs:complexType[@name='{name}']", namespaces={"xs": XS}
    )
    extension = complex_type.find(f".//{{{XS}}}extension")
    base = _sequence(types, extension.get("base").split(":")[1]) if extension is not None else ()
    own = (extension if extension is not None else complex_type).xpath(
        "./xs:sequence/xs:element", namespaces={"xs": XS}
    )
    return base + tuple(e.get("name") or e.get("ref").split(":")[1] for e in own)


@pytest.mark.parametrize("item", sorted(TYPES))
def test_element_order_is_the_schemas(item: str) -> None:
    types = etree.parse(str(HERE / "types.xsd"))
    assert ORDER[item] == _sequence(types, TYPES[item])
