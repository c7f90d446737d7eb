"""requests (exchangelib's HTTP) with an overall deadline and a size cap on every request.

requests' timeouts bound each socket operation, not the request. :class:`BoundedAdapter`
arms a watchdog for each request that shuts the request's connection down when the deadline
passes (the blocked read then returns at once, and the request fails with
:class:`~engine.net.limits.DeadlineExceededError`), streams the body up to the cap, and
verifies TLS as its own limits say, so that two connections in one process never share
that choice.

A caller that asks to stream (exchangelib's GetStreamingEvents, an answer open for up to 30
minutes) gets the body as it arrives, still within a deadline and the cap: see
:meth:`BoundedAdapter.send`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import heapq
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from engine.net.limits import Deadline, HttpLimits, ResponseTooLargeError

_CHUNK = 64 * 1024
_local = threading.local()


class BoundedAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` that holds every request to its :class:`HttpLimits`."""

    def __init__(self, limits: HttpLimits, **kwargs: Any) -> None:
        self.limits = limits
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        """Connections through an http(s) proxy are watched too (a SOCKS proxy's have
        classes of their own and keep them: there only the size cap holds)."""
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """The whole answer is read here, unless the caller asked to stream it."""
        url = request.url or ""
        verify = verify if self.limits.verify_tls else False
        if stream:
            return self._streamed(request, timeout, verify, cert, proxies)
        deadline = self.limits.deadline(url)
        with _watching(deadline):
            try:
                response = super().send(
                    request, True, _clamped(timeout, deadline), verify, cert, proxies
                )
                try:
                    response._content = self.limits.read(response.iter_content(_CHUNK), url)
                except BaseException:
                    response.close()
                    raise
            except requests.RequestException:
                if deadline.expired:
                    raise deadline.error() from None
                raise
        return response

    def _streamed(
        self,
        request: requests.PreparedRequest,
        timeout: Any,
        verify: bool | str,
        cert: Any,
        proxies: Mapping[str, str] | None,
    ) -> requests.Response:
        """An answer read as it arrives. Its deadline is the caller's timeout when that is
        longer (exchangelib gives a stream's whole length plus a minute): the watchdog stays
        armed until the response is closed, and closing it shuts the connection down, so
        that another thread blocked reading it returns at once. The cap counts every byte
        read."""
        url = request.url or ""
        longest = max(self.limits.deadline_seconds, _seconds(timeout))
        limits = dataclasses.replace(self.limits, deadline_seconds=longest)
        deadline = limits.deadline(url)
        watchdog = _Watchdog(deadline)
        outer = getattr(_local, "watchdog", None)
        _local.watchdog = watchdog
        watchdog.start()
        try:
            response = super().send(
                request, True, _clamped(timeout, deadline), verify, cert, proxies
            )
        except requests.RequestException:
            watchdog.cancel()
            if deadline.expired:
                raise deadline.error() from None
            raise
        finally:
            _local.watchdog = outer
        _bound_stream(response, watchdog, limits, url)
        return response


def _seconds(timeout: Any) -> float:
    """The longest wait a requests timeout allows (0 when it sets none)."""
    parts = timeout if isinstance(timeout, tuple) else (timeout,)
    return max((part for part in parts if isinstance(part, int | float)), default=0)


def _bound_stream(
    response: requests.Response, watchdog: _Watchdog, limits: HttpLimits, url: str
) -> None:
    """The response's reading capped at ``limits``, and its closing shutting it down."""
    chunks = response.iter_content
    close = response.close

    def capped(chunk_size: int | None = 1, decode_unicode: bool = False) -> Iterator[Any]:
        read = 0
        for chunk in chunks(chunk_size, decode_unicode):
            read += len(chunk)
            if read > limits.max_response_bytes:
                response.close()
                raise ResponseTooLargeError(
                    f"{url} streamed more than {limits.max_response_bytes:,} bytes, the most"
                    f" msext reads of one answer ({limits.size_setting})"
                )
            yield chunk

    def shut() -> None:
        watchdog.fire()
        watchdog.cancel()
        close()

    response.iter_content = capped  # type: ignore[method-assign]
    response.close = shut  # type: ignore[method-assign]


def bounded_session(limits: HttpLimits, **adapter_args: Any) -> requests.Session:
    """A new session whose every URL goes through a :class:`BoundedAdapter`."""
    return bound(requests.Session(), limits, **adapter_args)


def bound(session: requests.Session, limits: HttpLimits, **adapter_args: Any) -> requests.Session:
    """``session`` with a :class:`BoundedAdapter` in place of each adapter it has mounted."""
    adapter = BoundedAdapter(limits, **adapter_args)
    for prefix in list(session.adapters):
        session.mount(prefix, adapter)
    return session


def _clamped(timeout: Any, deadline: Deadline) -> Any:
    """Connect and read timeouts no longer than what is left of the deadline."""
    left = max(deadline.remaining(), 0.001)
    if timeout is None:
        return left
    if isinstance(timeout, tuple):
        return tuple(left if part is None else min(part, left) for part in timeout)
    return min(timeout, left) if isinstance(timeout, int | float) else timeout


class _Watchdog:
    """Shuts down the connections a request used once its deadline passes."""

    def __init__(self, deadline: Deadline) -> None:
        self.ends = deadline.ends
        self._connections: list[HTTPConnection] = []
        self._fired = False
        self.cancelled = False
        self._lock = threading.Lock()

    def start(self) -> None:
        _REAPER.arm(self)

    def cancel(self) -> None:
        self.cancelled = True

    def watch(self, connection: HTTPConnection) -> None:
        with self._lock:
            self._connections.append(connection)
            if self._fired:
                _shut(connection)

    def fire(self) -> None:
        with self._lock:
            self._fired = True
            for connection in self._connections:
                _shut(connection)


class _Reaper:
    """One thread fires every watchdog of the process at its deadline: a timer thread per
    request cost a thread start and stop on each of a sync's thousands of requests."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, _Watchdog]] = []
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def arm(self, watchdog: _Watchdog) -> None:
        with self._wake:
            heapq.heappush(self._due, (watchdog.ends, id(watchdog), watchdog))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="msext-deadlines")
                self._thread.daemon = True
                self._thread.start()
            elif self._due[0][2] is watchdog:
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._due and self._due[0][2].cancelled:
                    heapq.heappop(self._due)
                if not self._due:
                    self._wake.wait()
                    continue
                wait = self._due[0][0] - time.monotonic()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                watchdog = heapq.heappop(self._due)[2]
            watchdog.fire()


_REAPER = _Reaper()


def _shut(connection: HTTPConnection) -> None:
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def _watching(deadline: Deadline) -> Iterator[None]:
    """The connections this thread uses meanwhile are shut down at the deadline."""
    watchdog = _Watchdog(deadline)
    outer = getattr(_local, "watchdog", None)
    _local.watchdog = watchdog
    watchdog.start()
    try:
        yield
    finally:
        watchdog.cancel()
        _local.watchdog = outer


class _Watched:
    """A connection that tells the current request's watchdog it is in use."""

    def request(self, *args: Any, **kwargs: Any) -> None:
        watchdog: _Watchdog | None = getattr(_local, "watchdog", None)
        if watchdog is not None:
            watchdog.watch(self)  # type: ignore[arg-type]
        super().request(*args, **kwargs)  # type: ignore[misc]


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}
