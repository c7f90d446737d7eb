"""The bounds of one HTTP request, and the errors that say which bound a server broke.

A read timeout alone does not end a request: a server that sends one byte every few
seconds never trips it. Every request therefore has a wall-clock deadline, and what is read
of its answer is capped, so that a hostile or broken server costs one failed request.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from engine.errors import UserError

MIB = 1024 * 1024
DEFAULT_MAX_RESPONSE_MIB = 64


class HttpLimitError(UserError):
    """A server broke a bound of msext's requests; the request failed, nothing waits on."""


class DeadlineExceededError(HttpLimitError):
    """No complete answer within the request's deadline."""


class ResponseTooLargeError(HttpLimitError):
    """An answer larger than the cap on what msext reads of one response."""


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """The bounds of each request of one connection.

    ``deadline_setting`` and ``size_setting`` name the settings that set them, so that an
    error tells the administrator which one to change.
    """

    deadline_seconds: float
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_MIB * MIB
    verify_tls: bool = True
    deadline_setting: str = "exchange.general.timeout_seconds"
    size_setting: str = "exchange.general.max_response_mib"

    def deadline(self, url: str) -> Deadline:
        return Deadline(self, url)

    def read(self, chunks: Iterable[bytes], url: str) -> bytes:
        """The whole body, or :class:`ResponseTooLargeError` as soon as it exceeds the cap
        (nothing more is read)."""
        body = bytearray()
        for chunk in chunks:
            body += chunk
            if len(body) > self.max_response_bytes:
                raise ResponseTooLargeError(
                    f"{_origin(url)} answered more than {_size(self.max_response_bytes)}, the"
                    f" most msext reads of one answer ({self.size_setting}); the request failed"
                )
        return bytes(body)


class Deadline:
    """The wall-clock end of one request (monotonic)."""

    def __init__(self, limits: HttpLimits, url: str) -> None:
        self.limits = limits
        self.url = url
        self.ends = time.monotonic() + limits.deadline_seconds

    def remaining(self) -> float:
        return self.ends - time.monotonic()

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0

    def error(self) -> DeadlineExceededError:
        return DeadlineExceededError(
            f"{_origin(self.url)} sent no complete answer within"
            f" {self.limits.deadline_seconds:g} s ({self.limits.deadline_setting}); the request"
            " failed"
        )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else url


def _size(count: int) -> str:
    return f"{count / MIB:g} MiB" if count >= MIB else f"{count:,} bytes"
