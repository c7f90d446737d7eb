""" "Test connection" on the General tab: endpoint, credentials, impersonation, step by step."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import requests

from engine.connect import exchange_connector
from engine.errors import UserError
from engine.mailbox.base import MailboxError
from engine.paths import ProfilePaths
from engine.settings.model import Settings


@dataclass(frozen=True)
class Step:
    name: str
    ok: bool
    detail: str


def check_connection(
    settings: Settings, paths: ProfilePaths, mailbox: str | None, secret: str | None = None
) -> Iterator[Step]:
    """Each step as it completes; the first failure ends the test (later steps need it).

    Without a mailbox only the endpoint and the account's credentials are checked.
    """
    try:
        with exchange_connector(settings, paths, secret) as connector:
            endpoint = _endpoint(
                connector.endpoint,
                "the embedded EWS emulator" if settings.sandbox.enabled else connector.endpoint,
                settings.exchange.general.verify_tls,
            )
            yield endpoint
            if not endpoint.ok:
                return
            try:
                known = connector.resolve(mailbox or settings.exchange.general.sync_account)
            except MailboxError as error:
                yield Step("Credentials of the synchronization account", False, str(error))
                return
            yield Step("Credentials of the synchronization account", True, "accepted by Exchange")
            if mailbox is None:
                return
            if not known:
                yield Step("Mailbox", False, f"Exchange does not know {mailbox}")
                return
            try:
                connector.open(mailbox).check_access()
            except MailboxError as error:
                yield Step(f"Impersonation of {mailbox} (R14)", False, str(error))
                return
            yield Step(f"Impersonation of {mailbox} (R14)", True, "the calendar can be read")
    except (UserError, MailboxError) as error:
        yield Step("Connection", False, str(error))


def _endpoint(url: str, shown_as: str, verify_tls: bool) -> Step:
    """Any HTTP answer an EWS endpoint gives an empty POST proves it is there."""
    name = "EWS endpoint"
    try:
        answer = requests.post(url, data=b"", timeout=10, verify=verify_tls)
    except requests.RequestException as error:
        return Step(name, False, f"{shown_as} does not answer: {error}")
    if answer.status_code in (401, 200, 500):
        return Step(name, True, f"{shown_as} answers (HTTP {answer.status_code})")
    return Step(name, False, f"{shown_as} answered HTTP {answer.status_code}; is this an EWS URL?")
