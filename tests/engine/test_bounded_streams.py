"""A streamed answer (EWS GetStreamingEvents) through msext's bounded requests: read as it
arrives, yet still held to a deadline and the size cap, and closable from another thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import requests

from engine.net.bounded_requests import bounded_session
from engine.net.limits import HttpLimits, ResponseTooLargeError
from engine.sandbox.ews import EwsEmulator, StreamingLimits
from tests.sandbox.peer import ALICE, SERVICE, new_emulator, serving

SUBSCRIBE = (
    "<m:Subscribe><m:StreamingSubscriptionRequest><t:FolderIds>"
    '<t:DistinguishedFolderId Id="calendar"/></t:FolderIds>'
    "<t:EventTypes><t:EventType>CreatedEvent</t:EventType></t:EventTypes>"
    "</m:StreamingSubscriptionRequest></m:Subscribe>"
)


def _soap(body: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"'
        ' xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"'
        ' xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">'
        '<s:Header><t:RequestServerVersion Version="Exchange2016"/>'
        "<t:ExchangeImpersonation><t:ConnectingSID>"
        f"<t:PrimarySmtpAddress>{ALICE}</t:PrimarySmtpAddress>"
        "</t:ConnectingSID></t:ExchangeImpersonation></s:Header>"
        f"<s:Body>{body}</s:Body></s:Envelope>"
    )


@pytest.fixture
def emulator() -> Iterator[EwsEmulator]:
    with serving(new_emulator(streaming=StreamingLimits(keep_alive_seconds=0.05))) as emulator:
        yield emulator


def _stream(emulator: EwsEmulator, limits: HttpLimits, timeout: float) -> requests.Response:
    """A half-hour GetStreamingEvents through a bounded session."""
    session = bounded_session(limits)
    session.auth = SERVICE
    answer = session.post(emulator.url, data=_soap(SUBSCRIBE), timeout=5)
    subscription = answer.text.split("<m:SubscriptionId>")[1].split("<")[0]
    body = (
        "<m:GetStreamingEvents><m:SubscriptionIds>"
        f"<t:SubscriptionId>{subscription}</t:SubscriptionId></m:SubscriptionIds>"
        "<m:ConnectionTimeout>30</m:ConnectionTimeout></m:GetStreamingEvents>"
    )
    return session.post(emulator.url, data=_soap(body), stream=True, timeout=timeout)


def test_a_streamed_answer_arrives_as_sent_and_closing_it_wakes_its_reader(
    emulator: EwsEmulator,
) -> None:
    """The first keep-alive is read long before the stream ends; another thread closing
    the answer ends the blocked read at once."""
    answer = _stream(emulator, HttpLimits(deadline_seconds=5), timeout=60)
    chunks = answer.iter_content(1)
    assert next(chunks)
    ended = threading.Event()

    def read() -> None:
        try:
            for _ in chunks:
                pass
        except (requests.RequestException, OSError):
            pass
        ended.set()

    threading.Thread(target=read, daemon=True).start()
    time.sleep(0.2)
    closed = time.monotonic()
    answer.close()
    assert ended.wait(2), "the reader returned"
    assert time.monotonic() - closed < 1


def test_a_streamed_answer_is_held_to_the_size_cap(emulator: EwsEmulator) -> None:
    answer = _stream(emulator, HttpLimits(deadline_seconds=5, max_response_bytes=4000), 60)
    with pytest.raises(ResponseTooLargeError, match="streamed more than 4,000 bytes"):
        for _ in answer.iter_content(1):
            pass


def test_a_streamed_answer_is_cut_at_its_deadline(emulator: EwsEmulator) -> None:
    """The caller's timeout (here a second) bounds the whole stream when it is the longer."""
    answer = _stream(emulator, HttpLimits(deadline_seconds=0.5), timeout=1)
    started = time.monotonic()
    with pytest.raises((requests.RequestException, OSError)):
        for _ in answer.iter_content(1):
            pass
    assert 0.5 < time.monotonic() - started < 3
