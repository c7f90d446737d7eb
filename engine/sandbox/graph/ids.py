"""Graph ids are the EWS ids made url-safe (as Exchange's REST ids are), so either front
finds what the other created."""

from __future__ import annotations

from engine.exchange.mailbox.base import ews_id as to_ews
from engine.exchange.mailbox.base import rest_id as to_graph
from engine.sandbox.ews.items import occurrence_id, parse_occurrence_id

__all__ = ["graph_occurrence_id", "parse_graph_id", "to_ews", "to_graph"]


def graph_occurrence_id(master_ews_id: str, index: int) -> str:
    return to_graph(occurrence_id(master_ews_id, index))


def parse_graph_id(graph_id: str) -> tuple[str, int | None]:
    """(EWS item id, occurrence index or None) of an event's or contact's Graph id."""
    ews_id = to_ews(graph_id)
    occurrence = parse_occurrence_id(ews_id)
    return occurrence if occurrence is not None else (ews_id, None)
