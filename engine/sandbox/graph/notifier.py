"""The peer's calls to notification URLs, as Microsoft Graph makes them: the validation
request a subscription's creation waits for, and change and lifecycle notifications posted
from one thread, in order.

Graph calls https URLs only; the receiver's certificate is checked against the system's
trusted roots, or against the CA file a test or the demo gives the emulator.
"""

from __future__ import annotations

import logging
import queue
import ssl
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

log = logging.getLogger(__name__)
VALIDATION_SECONDS = 10.0
"""How long Graph waits for the validation token's echo."""
DELIVERY_SECONDS = 3.0
"""How long Graph waits for a notification's 2xx; a slower answer counts as a failure."""


@dataclass(frozen=True)
class Delivery:
    url: str
    notification: Mapping[str, Any]
    on_failure: Callable[[], None] | None = None
    """What the sender does when the URL does not take it (a ``missed`` lifecycle
    notification, for a subscription that asked for them)."""


class Notifier:
    """Posts to notification URLs; :meth:`close` ends its thread."""

    def __init__(self, ca_file: str | None = None) -> None:
        context = ssl.create_default_context(cafile=ca_file)
        self._http = httpx.Client(verify=context, timeout=VALIDATION_SECONDS)
        self._pending: queue.Queue[Delivery | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="graph-notifier", daemon=True)
        self._thread.start()

    def validate(self, url: str) -> bool:
        """Graph's validation request: a POST with ``validationToken`` in the query, answered
        within 10 s by 200, text/plain and the token itself."""
        token = (
            "Validation: Testing client application reachability for subscription"
            f" Request-Id: {uuid.uuid4()}"
        )
        joiner = "&" if urlsplit(url).query else "?"
        try:
            answer = self._http.post(
                f"{url}{joiner}validationToken={quote(token, safe='')}",
                headers={"Content-Type": "text/plain; charset=utf-8"},
            )
        except httpx.HTTPError as error:
            log.info("graph emulator: validation of %s failed: %s", url, error)
            return False
        text_plain = answer.headers.get("content-type", "").startswith("text/plain")
        return answer.status_code == 200 and text_plain and answer.text == token

    def send(self, delivery: Delivery) -> None:
        self._pending.put(delivery)

    def close(self) -> None:
        self._pending.put(None)
        self._thread.join(timeout=5)
        self._http.close()

    def _run(self) -> None:
        while (delivery := self._pending.get()) is not None:
            if not self._post(delivery) and delivery.on_failure is not None:
                delivery.on_failure()

    def _post(self, delivery: Delivery) -> bool:
        try:
            answer = self._http.post(
                delivery.url, json={"value": [delivery.notification]}, timeout=DELIVERY_SECONDS
            )
        except httpx.HTTPError as error:
            log.info("graph emulator: a notification to %s failed: %s", delivery.url, error)
            return False
        if not answer.is_success:
            log.info("graph emulator: %s answered %s", delivery.url, answer.status_code)
        return answer.is_success
