"""The Workflows webhook peer: 202 for a valid post, 400 naming what is wrong, the official
Adaptive Card schema, 404/410/429 on demand, the rate of about 4 posts a second."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from engine.sandbox.teams import WorkflowsPeer
from engine.sandbox.teams.cards import (
    SCHEMA_SHA256,
    canonical_sha256,
    schema,
)

CARD = {
    "type": "AdaptiveCard",
    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
    "version": "1.5",
    "body": [
        {"type": "TextBlock", "text": "Ticket T20261202.0001 created", "weight": "Bolder"},
        {"type": "FactSet", "facts": [{"title": "Priority", "value": "High"}]},
    ],
    "actions": [{"type": "Action.OpenUrl", "title": "Open", "url": "https://psa.example.com/t/1"}],
}


def message(*cards: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
            for card in cards
        ],
    }


@pytest.fixture
def peer() -> Iterator[WorkflowsPeer]:
    with WorkflowsPeer() as peer:
        yield peer


def test_the_schema_is_microsofts_adaptive_card_1_5() -> None:
    """The copy read is the official schema (microsoft/AdaptiveCards,
    schemas/1.5.0/adaptive-card.json), whatever package ships it."""
    document = schema()
    assert document["id"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert canonical_sha256(document) == SCHEMA_SHA256


def test_a_valid_card_is_accepted_and_kept(peer: WorkflowsPeer) -> None:
    hook = peer.add_webhook("Service desk")
    answer = httpx.post(peer.url(hook), json=message(CARD))
    assert answer.status_code == 202
    assert answer.content == b""
    (received,) = peer.received(hook)
    assert received.cards == [CARD]


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ({"text": "hello"}, "type: must be 'message'"),
        ({"type": "message", "attachments": []}, "attachments: must be a list"),
        (
            {"type": "message", "attachments": [{"contentType": "text/plain", "content": CARD}]},
            "attachments[0].contentType",
        ),
        (
            message({**CARD, "body": [{"type": "TextBlock", "text": "x", "size": "huge"}]}),
            "attachments[0].content.body[0].size: 'huge' is not one of default",
        ),
        (
            message({**CARD, "body": [{"type": "Paragraph", "text": "x"}]}),
            "body[0].type: 'Paragraph' is not a type allowed here",
        ),
        (
            message({**CARD, "actions": [{"type": "Action.OpenUrl", "title": "Open"}]}),
            "content.actions[0]: 'url' is a required property",
        ),
        (
            message({**CARD, "body": [{"type": "FactSet", "facts": [{"title": "a"}]}]}),
            "body[0].facts[0]: 'value' is a required property",
        ),
        (message({**CARD, "version": "1.6"}), "newer than Teams renders"),
        (message({key: CARD[key] for key in ("type", "body")}), "must say its version"),
        (message({**CARD, "type": "MessageCard"}), "'MessageCard' is not one of"),
    ],
)
def test_an_invalid_post_is_refused_naming_the_problem(
    peer: WorkflowsPeer, payload: dict[str, Any], words: str
) -> None:
    hook = peer.add_webhook("Service desk")
    answer = httpx.post(peer.url(hook), json=payload)
    assert answer.status_code == 400
    assert words in answer.json()["error"]["message"]
    assert peer.received(hook) == []


def test_not_json_and_wrong_urls_are_refused(peer: WorkflowsPeer) -> None:
    hook = peer.add_webhook("Service desk")
    answer = httpx.post(peer.url(hook), content=json.dumps(message(CARD)))
    assert answer.status_code == 400
    assert "Content-Type" in answer.json()["error"]["message"]
    assert (
        httpx.post(peer.url(hook).replace("sig=", "sig=x"), json=message(CARD)).status_code == 401
    )
    other = peer.url(hook).replace(hook.id, "0" * 32)
    assert httpx.post(other, json=message(CARD)).status_code == 404


@pytest.mark.parametrize("status", [404, 410, 500])
def test_an_answer_on_demand(peer: WorkflowsPeer, status: int) -> None:
    hook = peer.add_webhook("Service desk")
    peer.answer(hook, status)
    assert httpx.post(peer.url(hook), json=message(CARD)).status_code == status
    assert httpx.post(peer.url(hook), json=message(CARD)).status_code == 202
    assert len(peer.received(hook)) == 1


def test_a_removed_workflow_answers_410_from_then_on(peer: WorkflowsPeer) -> None:
    hook = peer.add_webhook("Service desk")
    peer.answer(hook, 410, times=None)
    for _ in range(3):
        assert httpx.post(peer.url(hook), json=message(CARD)).status_code == 410


def test_throttled_on_demand_with_retry_after(peer: WorkflowsPeer) -> None:
    hook = peer.add_webhook("Service desk")
    peer.answer(hook, 429, times=2, retry_after="3")
    answers = [httpx.post(peer.url(hook), json=message(CARD)) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [429, 429, 202]
    assert answers[0].headers["Retry-After"] == "3"


def test_more_than_four_posts_a_second_are_throttled(peer: WorkflowsPeer) -> None:
    """Each webhook on its own: another webhook's posts do not count."""
    hook, other = peer.add_webhook("Service desk"), peer.add_webhook("Alerts")
    with httpx.Client() as client:
        statuses = [client.post(peer.url(hook), json=message(CARD)).status_code for _ in range(5)]
        assert client.post(peer.url(other), json=message(CARD)).status_code == 202
        assert statuses == [202, 202, 202, 202, 429]
        time.sleep(1.0)
        assert client.post(peer.url(hook), json=message(CARD)).status_code == 202


def test_the_peer_keeps_what_it_received_in_its_file(tmp_path) -> None:
    """The demo's console reads the cards a daemon's copy of the peer accepted."""
    with WorkflowsPeer(tmp_path / "workflows.sqlite") as peer:
        hook = peer.add_webhook("Service desk")
        httpx.post(peer.url(hook), json=message(CARD, CARD))
    with WorkflowsPeer(tmp_path / "workflows.sqlite") as again:
        assert [received.cards for received in again.received(hook)] == [[CARD, CARD]]
