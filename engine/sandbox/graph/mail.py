"""sendMail's message as the ``t:Message`` exchangelib sends, so the EWS front lists it."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from engine.sandbox.ews.xml import sub, t
from engine.sandbox.graph.errors import bad_request
from engine.sandbox.graph.events import SUBJECT_LIMIT
from engine.sandbox.graph.fields import check_properties, nested, put, put_body, string

ORDER = ("Subject", "Body", "ToRecipients")
WRITABLE = frozenset({"subject", "body", "toRecipients"})


def message_element(message: Any) -> ET.Element:
    """A ``message`` object of a sendMail body as a ``t:Message``."""
    if not isinstance(message, dict):
        raise bad_request("sendMail needs a 'message' object.")
    check_properties(message, WRITABLE, "message")
    element = ET.Element(t("Message"))
    put(element, "Subject", (string(message, "subject") or "")[:SUBJECT_LIMIT], ORDER)
    if "body" in message:
        put_body(element, message["body"], ORDER)
    recipients = message.get("toRecipients") or []
    if not isinstance(recipients, list) or not recipients:
        raise bad_request("The message needs at least one of 'toRecipients'.")
    container = put(element, "ToRecipients", None, ORDER)
    for recipient in recipients:
        wrapper = nested(recipient, "toRecipients", frozenset({"emailAddress"}))
        address = nested(
            wrapper.get("emailAddress"), "emailAddress", frozenset({"address", "name"})
        )
        mailbox = sub(container, t("Mailbox"))
        if address.get("name"):
            sub(mailbox, t("Name"), string(address, "name"))
        sub(mailbox, t("EmailAddress"), string(address, "address") or "")
    return element
