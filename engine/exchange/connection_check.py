""" "Test connection" on the General tab: endpoint, credentials, mailbox access, step by step.

Over EWS the synchronization account signs in and impersonates; over Microsoft Graph the
app registration signs in and uses its application permissions (R14, R19).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import requests

from engine.errors import UserError
from engine.exchange.connect import exchange_connector
from engine.exchange.mailbox.base import MailboxError
from engine.net.bounded_requests import bounded_session
from engine.net.limits import HttpLimitError, HttpLimits
from engine.paths import ProfilePaths
from engine.settings.model import MailboxApi, Settings


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
    graph = settings.exchange.general.mailbox_api is MailboxApi.GRAPH
    signs_in = "The app registration" if graph else "Credentials of the synchronization account"
    access = "Application permissions for {}" if graph else "Impersonation of {} (R14)"
    try:
        with exchange_connector(settings, paths, secret) as connector:
            endpoint = _endpoint(
                connector.endpoint,
                _shown_as(settings, connector.endpoint),
                settings.exchange.general.http_limits(),
                graph,
            )
            yield endpoint
            if not endpoint.ok:
                return
            try:
                known = connector.resolve(mailbox or settings.exchange.general.sync_account)
            except MailboxError as error:
                yield Step(signs_in, False, str(error))
                return
            yield Step(
                signs_in, True, "accepted by Microsoft 365" if graph else "accepted by Exchange"
            )
            if mailbox is None:
                return
            if not known:
                yield Step("Mailbox", False, f"Exchange does not know {mailbox}")
                return
            try:
                connector.open(mailbox).check_access()
            except MailboxError as error:
                yield Step(access.format(mailbox), False, str(error))
                return
            yield Step(access.format(mailbox), True, "the calendar can be read")
    except (UserError, MailboxError) as error:
        yield Step("Connection", False, str(error))


def _shown_as(settings: Settings, endpoint: str) -> str:
    if not settings.sandbox.enabled:
        return endpoint
    graph = settings.exchange.general.mailbox_api is MailboxApi.GRAPH
    return "the embedded Graph emulator" if graph else "the embedded EWS emulator"


def _endpoint(url: str, shown_as: str, limits: HttpLimits, graph: bool) -> Step:
    """Any HTTP answer an EWS endpoint gives an empty POST proves it is there; Graph
    answers an unauthenticated GET of its base URL with an HTTP error of its own."""
    name = "Microsoft Graph endpoint" if graph else "EWS endpoint"
    try:
        with bounded_session(limits) as session:
            answer = session.get(url) if graph else session.post(url, data=b"")
    except (requests.RequestException, HttpLimitError) as error:
        return Step(name, False, f"{shown_as} does not answer: {error}")
    if answer.status_code == 401:
        # Not a failure: an endpoint asks who is calling; the next step signs in.
        return Step(name, True, f"{shown_as} answers and asks for a sign-in (checked next)")
    if graph or answer.status_code in (200, 500):
        return Step(name, True, f"{shown_as} answers (HTTP {answer.status_code})")
    return Step(name, False, f"{shown_as} answered HTTP {answer.status_code}; is this an EWS URL?")
