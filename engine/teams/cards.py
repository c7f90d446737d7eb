"""The Adaptive Cards msext posts to Teams channels, and the same cards read back as text.

Every card is the plain Adaptive Card object (``{"type": "AdaptiveCard", ...}``) that the
outbox queues and delivery wraps in the Workflows webhook's message: a heading that says
the event, a line on what it is about, the facts as a FactSet, and a button that opens the
record where there is one. Only elements every Teams client renders (TextBlock, FactSet,
Action.OpenUrl, card version 1.4), and values as text, so the card stays valid against the
official schema (``tests/teams``) whatever the PSA holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.4"
MAX_TEXT = 2_000
"""A description longer than this is cut (Teams refuses messages over about 28 KB)."""

Card = dict[str, Any]
Facts = Sequence[tuple[str, str]]


def card(
    heading: str,
    title: str,
    facts: Facts = (),
    text: str = "",
    link: tuple[str, str] | None = None,
    attention: bool = False,
) -> Card:
    """A card: ``heading`` (the event), ``title`` (what it is about), then the facts with a
    value, ``text`` (a description), and ``link`` as (button label, URL)."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": heading,
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
            **({"color": "Attention"} if attention else {}),
        },
        {"type": "TextBlock", "text": title, "weight": "Bolder", "wrap": True},
    ]
    shown = [{"title": name, "value": value} for name, value in facts if value]
    if shown:
        body.append({"type": "FactSet", "facts": shown})
    if text.strip():
        body.append({"type": "TextBlock", "text": _cut(text.strip()), "wrap": True})
    content: Card = {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
    }
    if link is not None:
        label, url = link
        content["actions"] = [{"type": "Action.OpenUrl", "title": label, "url": url}]
    return content


def when(moment: datetime | None) -> str:
    """A date and time as cards show them (UTC, to the minute)."""
    return "" if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"


def names(people: Iterable[str]) -> str:
    return ", ".join(people)


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3].rstrip() + "..."


def as_text(content: Card) -> list[str]:
    """A card as lines of text, the way a person reads it in the channel (the demo's
    console shows the cards a channel received so)."""
    lines: list[str] = []
    for element in content.get("body", []):
        lines.extend(_element_lines(element))
    for action in content.get("actions", []):
        if action.get("type") == "Action.OpenUrl":
            lines.append(f"[{action.get('title', 'Open')}] {action.get('url', '')}")
    return lines


def _element_lines(element: dict[str, Any]) -> list[str]:
    kind = element.get("type")
    if kind == "TextBlock":
        return str(element.get("text", "")).splitlines() or [""]
    if kind == "FactSet":
        return [f"{fact.get('title', '')}: {fact.get('value', '')}" for fact in element["facts"]]
    if kind in ("Container", "Column"):
        return [line for item in element.get("items", []) for line in _element_lines(item)]
    if kind == "ColumnSet":
        return [line for column in element.get("columns", []) for line in _element_lines(column)]
    return []
