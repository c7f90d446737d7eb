"""What a Power Automate Workflows webhook ("post to a channel when a webhook request is
received") accepts: a message whose attachments are Adaptive Cards, each valid under the
official Adaptive Card schema (1.5, the newest version Teams renders).

The schema is Microsoft's ``schemas/1.5.0/adaptive-card.json`` from the public
microsoft/AdaptiveCards repository, kept unchanged beside this module (``schema/``, with
its origin; ``SCHEMA_SHA256`` pins its canonical form, and a test checks it). A problem
is reported as one line naming where it is and what is wrong: for an element or action
(an ``anyOf`` of every type), the errors of the one type the object names, not those of
the thirty others.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from functools import cache
from importlib.resources import files
from typing import Any

from jsonschema import Draft6Validator
from jsonschema.exceptions import ValidationError, best_match

SCHEMA_FILE = "schema/adaptive-card-1.5.json"
SCHEMA_SHA256 = "d5e6a247964864ade01927bfc7f9748b61469a44df38dd3b827ad05fd4d9e5bf"
"""SHA-256 of the canonical JSON (sorted keys, no spaces) of microsoft/AdaptiveCards'
``schemas/1.5.0/adaptive-card.json`` (last changed in 93695cf2, 2021-11-15)."""
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
TEAMS_VERSION = (1, 5)
"""The newest Adaptive Card version Teams renders."""
MAX_PAYLOAD_BYTES = 28 * 1024
"""Teams refuses a message over about 28 KB."""


def schema() -> dict[str, Any]:
    """The official schema, parsed."""
    text = files(__package__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8-sig")
    return json.loads(text)


def canonical_sha256(document: Any) -> str:
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@cache
def _validator() -> Draft6Validator:
    return Draft6Validator(schema())


class InvalidPostError(ValueError):
    """A post the workflow cannot turn into a channel message; the text says why."""


def check_payload(payload: Any) -> list[dict[str, Any]]:
    """The cards of a webhook post; :class:`InvalidPostError` naming the first problem."""
    if not isinstance(payload, dict):
        raise InvalidPostError("the body must be a JSON object")
    if payload.get("type") != "message":
        raise InvalidPostError(f"type: must be 'message', not {payload.get('type')!r}")
    attachments = payload.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        raise InvalidPostError("attachments: must be a list of at least one card")
    cards = []
    for index, attachment in enumerate(attachments):
        where = f"attachments[{index}]"
        if not isinstance(attachment, dict):
            raise InvalidPostError(f"{where}: must be an object")
        if attachment.get("contentType") != CARD_CONTENT_TYPE:
            raise InvalidPostError(
                f"{where}.contentType: must be {CARD_CONTENT_TYPE!r},"
                f" not {attachment.get('contentType')!r}"
            )
        card = attachment.get("content")
        check_card(card, f"{where}.content")
        cards.append(card)
    return cards


def check_card(card: Any, where: str = "card") -> None:
    """:class:`InvalidPostError` unless ``card`` is an Adaptive Card Teams renders."""
    if not isinstance(card, dict):
        raise InvalidPostError(f"{where}: must be an Adaptive Card object")
    error = best_match(_validator().iter_errors(card))
    if error is not None:
        raise InvalidPostError(_describe(_narrowed(error), where))
    version = card.get("version")
    if not isinstance(version, str):
        raise InvalidPostError(f"{where}.version: a top-level card must say its version")
    if _version(version) > TEAMS_VERSION:
        raise InvalidPostError(
            f"{where}.version: {version} is newer than Teams renders (at most"
            f" {'.'.join(map(str, TEAMS_VERSION))})"
        )


def _version(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split("."))
    except ValueError:
        raise InvalidPostError(f"card.version: {text!r} is not a version like 1.5") from None


def _narrowed(error: ValidationError) -> ValidationError:
    """For an ``anyOf`` of element (or action) types, the error of the type the object
    names; the error itself when no single type is named."""
    while error.validator == "anyOf" and error.context:
        branches: dict[Any, list[ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        named = [errors for errors in branches.values() if not _type_mismatch(errors, error)]
        if len(named) != 1:
            return error
        error = best_match(named[0]) or error
    return error


def _type_mismatch(errors: Iterable[ValidationError], parent: ValidationError) -> bool:
    depth = len(parent.absolute_path)
    return any(
        len(sub.absolute_path) == depth + 1
        and sub.absolute_path[-1] == "type"
        and sub.validator == "enum"
        for sub in errors
    )


def _describe(error: ValidationError, where: str) -> str:
    path = where + "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path
    )
    if error.validator != "anyOf":
        return f"{path}: {error.message}"
    types = _type_names(error.validator_value)
    if types and isinstance(error.instance, dict):
        if "type" not in error.instance:
            return f"{path}: has no type (one of {', '.join(types)})"
        return (
            f"{path}.type: {error.instance['type']!r} is not a type allowed here"
            f" (one of {', '.join(types)})"
        )
    values = _enum_values(error)
    if values:
        return f"{path}: {error.instance!r} is not one of {', '.join(map(str, values))}"
    return f"{path}: {error.message}"


def _type_names(branches: list[dict[str, Any]]) -> list[str]:
    """The definitions an ``anyOf`` of implementations refers to (``#/definitions/X``)."""
    return [
        part["$ref"].rsplit("/", 1)[-1]
        for branch in branches
        for part in branch.get("allOf", ())
        if "$ref" in part
    ]


def _enum_values(error: ValidationError) -> list[Any]:
    """The values an ``anyOf`` of enumerations (and their spellings) would accept."""
    found: list[Any] = []
    for sub in error.context or ():
        if sub.validator == "enum":
            found.extend(sub.validator_value)
        found.extend(_enum_values(sub))
    return found
