"""``msext serve``: the console in a browser, behind a token, for its own page only.

Real clients against a real ``msext serve`` process: httpx for the page, aiohttp for the
console's WebSocket (a browser sends its page's ``Origin`` with every socket).
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import httpx
import pytest

from console.cli import main
from tests.conftest import copy_profiles


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Served:
    process: subprocess.Popen[str]
    url: str
    """The URL ``msext serve`` printed, token included."""

    @property
    def origin(self) -> str:
        url = httpx.URL(self.url)
        return f"{url.scheme}://{url.netloc.decode()}"

    @property
    def root(self) -> str:
        return self.origin + "/"


def msext_serve(*args: str) -> list[str]:
    return [sys.executable, "-m", "console.cli", "--profile", "demo", "serve", *args]


@pytest.fixture(autouse=True)
def demo_profile(demo_template: Path, isolated_dirs: Path) -> None:
    copy_profiles(demo_template, isolated_dirs)


@contextmanager
def serving(*args: str) -> Iterator[Served]:
    process = subprocess.Popen(
        msext_serve(*args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        found = re.search(r"at (http://\S+)", line)
        assert found, f"no URL printed: {line!r}"
        served = Served(process, found[1].rstrip("/") + "/")
        fetch(served.url)  # wait until it listens
        yield served
    finally:
        process.terminate()
        process.wait(timeout=20)


def fetch(url: str, deadline: float = 30.0, **options: object) -> httpx.Response:
    """The first answer the server gives, waiting while it starts."""
    stop = time.monotonic() + deadline
    while True:
        try:
            return httpx.get(url, timeout=5, **options)  # type: ignore[arg-type]
        except httpx.TransportError:
            if time.monotonic() > stop:
                raise
            time.sleep(0.2)


async def console_screen(session: aiohttp.ClientSession, url: str, origin: str | None) -> bytes:
    """What the console sent over its WebSocket until it drew the Admin page."""
    socket_url = "ws" + url.removeprefix("http") + "ws?width=80&height=24"
    drawn = b""
    async with session.ws_connect(socket_url, origin=origin) as console:
        async with asyncio.timeout(60):
            async for message in console:
                if message.type is aiohttp.WSMsgType.BINARY:
                    drawn += message.data
                    if b"Extensions" in drawn:
                        return drawn
    raise AssertionError(f"the console closed before drawing: {drawn[-200:]!r}")


async def refusal(session: aiohttp.ClientSession, url: str, origin: str | None) -> int:
    """The HTTP status a console's WebSocket handshake was refused with."""
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await console_screen(session, url, origin)
    return refused.value.status


def test_the_printed_url_opens_a_console_from_its_own_page() -> None:
    """The page at the printed URL names the profile; its socket, sent with the page's own
    Origin, starts a console that draws the Admin page."""
    with serving("--port", str(free_port())) as served:
        page = fetch(served.url)
        assert page.status_code == 200 and "msext (demo)" in page.text
        assert page.headers["Referrer-Policy"] == "no-referrer"

        async def visit() -> bytes:
            async with aiohttp.ClientSession() as session:
                return await console_screen(session, served.url, served.origin)

        assert b"Extensions" in asyncio.run(visit())
        assert served.process.poll() is None


def test_without_or_with_a_wrong_token_nothing_is_served() -> None:
    """Neither the page, its static files nor the socket answer without the right token."""
    with serving("--port", str(free_port())) as served:
        token = served.url.removeprefix(served.root).strip("/")
        wrong = served.root + token[:-4] + "AAAA/"
        for url in (served.root, served.root + "?token=", wrong, wrong + "static/js/textual.js"):
            answer = fetch(url)
            assert answer.status_code == 403 and "needs the token" in answer.text, url
        assert len(token) >= 32
        assert fetch(served.url + "static/js/textual.js").status_code == 200

        async def sockets() -> list[int]:
            async with aiohttp.ClientSession() as session:
                return [
                    await refusal(session, served.root, served.origin),
                    await refusal(session, wrong, served.origin),
                ]

        assert asyncio.run(sockets()) == [403, 403]


def test_a_foreign_origin_cannot_open_a_console() -> None:
    """A web page elsewhere (or none at all) cannot start a console through the socket, even
    with the token; a request that a foreign page makes for the page itself is refused too."""
    with serving("--port", str(free_port())) as served:

        async def sockets() -> list[int]:
            async with aiohttp.ClientSession() as session:
                return [
                    await refusal(session, served.url, "http://evil.example"),
                    await refusal(session, served.url, served.origin.replace("127.0.0.1", "x")),
                    await refusal(session, served.url, None),
                ]

        assert asyncio.run(sockets()) == [403, 403, 403]
        page = fetch(served.url, headers={"Origin": "http://evil.example"})
        assert page.status_code == 403 and "origin http://evil.example" in page.text


def test_sessions_beyond_the_cap_are_refused_with_503() -> None:
    """With --max-sessions 1 a second console is refused while the first one runs."""
    with serving("--port", str(free_port()), "--max-sessions", "1") as served:

        async def two_consoles() -> tuple[int, httpx.Response]:
            async with aiohttp.ClientSession() as session:
                socket_url = "ws" + served.url.removeprefix("http") + "ws"
                async with session.ws_connect(socket_url, origin=served.origin) as first:
                    await first.receive(timeout=60)  # the first console has started
                    second = await refusal(session, served.url, served.origin)
                    async with httpx.AsyncClient() as client:
                        page = await client.get(served.url)
                    return second, page

        second, page = asyncio.run(two_consoles())
        assert second == 503
        assert page.status_code == 503 and "1 consoles are open" in page.text


def non_loopback_address() -> str | None:
    """This host's address on its default route, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "server.example", "::"])
def test_a_host_other_than_loopback_is_refused_without_allow_remote(
    host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --allow-remote nothing listens anywhere but on loopback: exit 2, one line."""
    assert main(["--profile", "demo", "serve", "--host", host, "--port", str(free_port())]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--allow-remote" in err


def test_allow_remote_serves_on_the_named_address_with_a_warning() -> None:
    address = non_loopback_address()
    if address is None:
        pytest.skip("this host has no address but loopback")
    with serving("--host", address, "--port", str(free_port()), "--allow-remote") as served:
        assert served.url.startswith(f"http://{address}:")
        assert fetch(served.url).status_code == 200
    err = served.process.stderr.read() if served.process.stderr else ""
    assert f"warning: serving on {address}, not on loopback" in err


def test_allow_remote_refuses_every_interface(capsys: pytest.CaptureFixture[str]) -> None:
    """0.0.0.0 would send browsers to ws://0.0.0.0: name the address they use instead."""
    assert main(["--profile", "demo", "serve", "--host", "0.0.0.0", "--allow-remote"]) == 2
    assert "no address a browser can open" in capsys.readouterr().err


def test_serve_refuses_a_bad_port_and_cap(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--profile", "demo", "serve", "--port", "70000"]) == 2
    assert "not a port number" in capsys.readouterr().err
    assert main(["--profile", "demo", "serve", "--max-sessions", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err
