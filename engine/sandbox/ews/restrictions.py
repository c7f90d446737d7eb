"""A FindItem's or FindFolder's ``Restriction`` and ``SortOrder``, applied to stored elements."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar
from xml.etree import ElementTree as ET

from engine.sandbox.ews.items import Path, UnsupportedError, value_of
from engine.sandbox.ews.xml import is_datetime, local, parse_datetime, t

T_Row = TypeVar("T_Row")
RESTRICTED_FIND_COUNT_LIMIT = 250
"""Exchange answers at most this many items to one restricted search (then pages)."""

_COMPARISONS = {
    "IsEqualTo": lambda a, b: a == b,
    "IsNotEqualTo": lambda a, b: a != b,
    "IsGreaterThan": lambda a, b: a > b,
    "IsGreaterThanOrEqualTo": lambda a, b: a >= b,
    "IsLessThan": lambda a, b: a < b,
    "IsLessThanOrEqualTo": lambda a, b: a <= b,
}


def matches(item: ET.Element, expression: ET.Element) -> bool:
    kind = local(expression.tag)
    children = list(expression)
    if kind == "Restriction":
        return all(matches(item, child) for child in children)
    if kind == "And":
        return all(matches(item, child) for child in children)
    if kind == "Or":
        return any(matches(item, child) for child in children)
    if kind == "Not":
        return not matches(item, children[0])
    if kind == "Exists":
        return bool(values(item, Path.parse(children[0])))
    if kind == "Contains":
        return _contains(item, expression, children)
    if kind == "IsNotEqualTo":
        return not matches(item, _renamed(expression, "IsEqualTo"))
    if kind in _COMPARISONS:
        constant = expression.find(f"{t('FieldURIOrConstant')}/{t('Constant')}")
        if constant is None:
            raise UnsupportedError("a comparison with a property on both sides")
        compare = _COMPARISONS[kind]
        wanted = constant.get("Value", "")
        return any(
            compare(*comparable(value, wanted)) for value in values(item, Path.parse(children[0]))
        )
    raise UnsupportedError(f"the restriction {kind}")


def _renamed(expression: ET.Element, kind: str) -> ET.Element:
    renamed = ET.Element(t(kind), expression.attrib)
    renamed.extend(expression)
    return renamed


def _contains(item: ET.Element, expression: ET.Element, children: list[ET.Element]) -> bool:
    constant = expression.find(t("Constant"))
    needle = constant.get("Value", "") if constant is not None else ""
    ignore_case = "Ignore" in (expression.get("ContainmentComparison") or "")
    mode = expression.get("ContainmentMode") or "Substring"
    if mode not in _CONTAINMENT:
        raise UnsupportedError(f"the ContainmentMode {mode}")
    if ignore_case:
        needle = needle.lower()
    return any(
        _CONTAINMENT[mode](value.lower() if ignore_case else value, needle)
        for value in values(item, Path.parse(children[0]))
    )


_CONTAINMENT = {
    "FullString": lambda value, needle: value == needle,
    "Prefixed": lambda value, needle: value.startswith(needle),
    "Substring": lambda value, needle: needle in value,
    "PrefixOnWords": lambda value, needle: any(w.startswith(needle) for w in value.split()),
    "ExactPhrase": lambda value, needle: needle in value,
}


def values(item: ET.Element, path: Path) -> list[str]:
    """A property's values: none when unset, one, or each of a multi-valued property's
    (Categories' strings, an extended property's Values). A restriction on a multi-valued
    property matches when one of its values does, as Exchange evaluates them."""
    found = value_of(item, path)
    if found is None:
        return []
    if path.kind == "extended":
        single = found.find(t("Value"))
        if single is not None:
            return [single.text or ""]
        return [value.text or "" for value in found.iterfind(f"{t('Values')}/{t('Value')}")]
    if len(found) and all(local(child.tag) == "String" for child in found):
        return [child.text or "" for child in found]
    return [found.text or ""]


def comparable(left: str, right: str) -> tuple[object, object]:
    if is_datetime(left) and is_datetime(right):
        return parse_datetime(left), parse_datetime(right)
    try:
        return float(left), float(right)
    except ValueError:
        return left.lower(), right.lower()


def in_sort_order(
    rows: list[T_Row], sort_order: ET.Element | None, element_of: Callable[[T_Row], ET.Element]
) -> list[T_Row]:
    """Rows sorted by each FieldOrder in turn (the first one most significant); an unset
    value sorts before any value when ascending, as Exchange sorts empty properties."""
    if sort_order is None:
        return rows
    ordered = list(rows)
    for field_order in reversed(list(sort_order)):
        path = Path.parse(field_order[0])
        descending = field_order.get("Order", "Ascending") == "Descending"

        def key(row: T_Row, path: Path = path) -> tuple[int, object]:
            found = values(element_of(row), path)
            return _sort_value(found[0]) if found else (0, "")

        ordered.sort(key=key, reverse=descending)
    return ordered


def _sort_value(text: str) -> tuple[int, object]:
    """A value's sort key, ranked by its kind so that no two kinds are ever compared."""
    value = comparable(text, text)[0]
    rank = {datetime: 1, float: 2}.get(type(value), 3)
    return rank, value
