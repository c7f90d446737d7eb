"""The REST API's query language: filter conditions on fields, nested in and/or groups.

``{"op": "eq", "field": "resourceID", "value": 4}`` and
``{"op": "or", "items": [...]}``. Field names match case-insensitively, as the real API's
do; an unknown operator or field is an error that names it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

Item = dict[str, Any]


class QueryError(ValueError):
    """A filter the API would refuse; the message is what the API's ``errors`` says."""


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:T|$)")


def api_datetime(value: str) -> datetime:
    """A date and time as the API reads it: without a zone it is UTC (the API keeps and
    returns every time in UTC and documents ``yyyy-mm-ddThh:mm:ss.ms``)."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(f"Invalid date and time value: {value!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _comparable(value: Any) -> Any:
    if isinstance(value, str) and _DATE.match(value):
        return api_datetime(value)
    if isinstance(value, str):
        return value.lower()
    return value


def _ordered(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(actual: Any, wanted: Any) -> bool:
        if actual is None or wanted is None:
            return False
        try:
            return op(_comparable(actual), _comparable(wanted))
        except TypeError:
            return False

    return compare


OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda actual, wanted: _comparable(actual) == _comparable(wanted),
    "noteq": lambda actual, wanted: _comparable(actual) != _comparable(wanted),
    "gt": _ordered(lambda a, b: a > b),
    "gte": _ordered(lambda a, b: a >= b),
    "lt": _ordered(lambda a, b: a < b),
    "lte": _ordered(lambda a, b: a <= b),
    "beginswith": lambda a, b: str(a or "").lower().startswith(str(b).lower()),
    "endswith": lambda a, b: str(a or "").lower().endswith(str(b).lower()),
    "contains": lambda a, b: str(b).lower() in str(a or "").lower(),
    "exist": lambda a, _: a is not None,
    "notexist": lambda a, _: a is None,
    "in": lambda a, b: _comparable(a) in {_comparable(v) for v in b or ()},
    "notin": lambda a, b: _comparable(a) not in {_comparable(v) for v in b or ()},
}


def lower_keys(data: Any) -> Any:
    """A JSON body with every object key lower-cased (the API reads keys in any case)."""
    if isinstance(data, dict):
        return {str(key).lower(): lower_keys(value) for key, value in data.items()}
    if isinstance(data, list):
        return [lower_keys(value) for value in data]
    return data


def matcher(conditions: list[Item], fields: set[str]) -> Callable[[Item], bool]:
    """All top-level conditions must hold (the API's implicit "and")."""
    tests = [_condition(condition, fields) for condition in conditions]
    return lambda item: all(test(item) for test in tests)


def _condition(condition: Item, fields: set[str]) -> Callable[[Item], bool]:
    op = str(condition.get("op", "")).lower()
    if op in ("and", "or"):
        parts = [_condition(part, fields) for part in condition.get("items") or []]
        combine = all if op == "and" else any
        return lambda item: combine(part(item) for part in parts)
    if op not in OPERATORS:
        raise QueryError(f"Unknown filter operator: {condition.get('op')!r}")
    field = str(condition.get("field", "")).lower()
    if field not in fields:
        raise QueryError(f"Unknown field in filter: {condition.get('field')!r}")
    test, wanted = OPERATORS[op], condition.get("value")
    for value in wanted if isinstance(wanted, list) else [wanted]:
        _comparable(value)  # a malformed date is refused before any record is read
    return lambda item: test(item.get(field), wanted)
