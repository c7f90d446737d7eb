"""Evaluating a FindItem ``Restriction`` against a stored item."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from engine.sandbox.ews.items import Path, UnsupportedError, value_of
from engine.sandbox.ews.xml import is_datetime, local, parse_datetime, t

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
        return _text(item, Path.parse(children[0])) is not None
    if kind == "Contains":
        return _contains(item, expression, children)
    if kind in _COMPARISONS:
        left = _text(item, Path.parse(children[0]))
        constant = expression.find(f"{t('FieldURIOrConstant')}/{t('Constant')}")
        if constant is None:
            raise UnsupportedError("a comparison with a property on both sides")
        if left is None:
            return kind == "IsNotEqualTo"
        return _COMPARISONS[kind](*_comparable(left, constant.get("Value", "")))
    raise UnsupportedError(f"the restriction {kind}")


def _contains(item: ET.Element, expression: ET.Element, children: list[ET.Element]) -> bool:
    value = _text(item, Path.parse(children[0]))
    constant = expression.find(t("Constant"))
    needle = constant.get("Value", "") if constant is not None else ""
    if value is None:
        return False
    if "Ignore" in (expression.get("ContainmentComparison") or ""):
        value, needle = value.lower(), needle.lower()
    mode = expression.get("ContainmentMode") or "Substring"
    if mode == "FullString":
        return value == needle
    if mode == "Prefixed":
        return value.startswith(needle)
    return needle in value


def _text(item: ET.Element, path: Path) -> str | None:
    found = value_of(item, path)
    if found is None:
        return None
    if path.kind == "extended":
        return found.findtext(t("Value"))
    return found.text or ""


def _comparable(left: str, right: str) -> tuple[object, object]:
    if is_datetime(left) and is_datetime(right):
        return parse_datetime(left), parse_datetime(right)
    try:
        return float(left), float(right)
    except ValueError:
        return left.lower(), right.lower()
