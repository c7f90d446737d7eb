"""httpx with an overall deadline and a size cap on every request.

httpx's timeouts bound each socket operation, not the request. Every socket operation of a
:class:`BoundedClient` passes through :class:`_DeadlineBackend`, which shortens its timeout
to what is left of the current request's deadline and fails it once nothing is left, so a
server dripping bytes (in the headers or the body) ends the request on time. The body is
streamed and read up to the cap, decoded, so that a compressed answer is counted as what it
becomes in memory.
"""

from __future__ import annotations

import contextvars
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from engine.net.limits import Deadline, HttpLimits

_CURRENT: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar(
    "msext_http_deadline", default=None
)


@dataclass(frozen=True, slots=True)
class Answer:
    """A response read in full within the connection's bounds."""

    status_code: int
    headers: httpx.Headers
    content: bytes


class BoundedClient:
    """An ``httpx.Client`` whose every request ends by its deadline and reads at most the
    cap of its answer; thread-safe as httpx's client is."""

    def __init__(
        self,
        limits: HttpLimits,
        connections: int = 8,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.limits = limits
        pool = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self._http = httpx.Client(
            verify=limits.verify_tls,
            limits=pool,
            timeout=limits.deadline_seconds,
            headers=headers,
        )
        for transport in (self._http._transport, *self._http._mounts.values()):
            if isinstance(transport, httpx.HTTPTransport):
                _keep_deadlines(transport)

    def request(self, method: str, url: str, **kwargs: Any) -> Answer:
        """The whole answer; :class:`~engine.net.limits.HttpLimitError` when a bound is
        broken, ``httpx.HTTPError`` when the transport fails."""
        deadline = self.limits.deadline(url)
        token = _CURRENT.set(deadline)
        try:
            with self._http.stream(method, url, **kwargs) as response:
                body = self.limits.read(response.iter_bytes(), url)
                return Answer(response.status_code, response.headers, body)
        except httpx.TimeoutException:
            if deadline.expired:
                raise deadline.error() from None
            raise
        finally:
            _CURRENT.reset(token)

    def close(self) -> None:
        self._http.close()


def _keep_deadlines(transport: httpx.HTTPTransport) -> None:
    """Put a transport's connections (direct, or through the proxy the environment names,
    as httpx chose) on a network backend that knows each request's deadline. httpx takes
    no backend as an argument: it is set on the connection pool the transport made."""
    pool = transport._pool
    pool._network_backend = _DeadlineBackend(pool._network_backend)


def _clamp(timeout: float | None, failure: type[Exception]) -> float | None:
    deadline = _CURRENT.get()
    if deadline is None:
        return timeout
    remaining = deadline.remaining()
    if remaining <= 0:
        raise failure("the request's deadline has passed")
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        secured = self._stream.start_tls(
            ssl_context, server_hostname, _clamp(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(secured)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_tcp(
            host, port, _clamp(timeout, httpcore.ConnectTimeout), local_address, socket_options
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._backend.connect_unix_socket(
            path, _clamp(timeout, httpcore.ConnectTimeout), socket_options
        )
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)
