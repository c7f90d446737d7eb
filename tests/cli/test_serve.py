"""``msext serve``: the console in a browser, on loopback unless told otherwise."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from console.cli import main


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(*args: str) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "console.cli", "--profile", "demo", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=20)


def fetch(url: str, deadline: float = 30.0) -> httpx.Response:
    """The first answer the server gives, waiting while it starts."""
    stop = time.monotonic() + deadline
    while True:
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            if time.monotonic() > stop:
                raise
            time.sleep(0.2)


def test_serve_answers_on_loopback_with_the_console_page() -> None:
    """The page a browser loads is served on 127.0.0.1 and names the profile."""
    assert main(["demo", "--seed-only"]) == 0
    port = free_port()
    with serving("--port", str(port)) as process:
        page = fetch(f"http://127.0.0.1:{port}/")
        assert page.status_code == 200 and "msext (demo)" in page.text
        assert process.poll() is None
    out = process.stdout.read() if process.stdout else ""
    assert f"at http://127.0.0.1:{port}" in out


def test_serve_elsewhere_than_loopback_warns() -> None:
    """Binding to every interface is allowed, with a warning on stderr first."""
    port = free_port()
    with serving("--host", "0.0.0.0", "--port", str(port)) as process:
        assert fetch(f"http://127.0.0.1:{port}/").status_code == 200
    err = process.stderr.read() if process.stderr else ""
    assert "warning: serving on 0.0.0.0, not on loopback" in err


def test_serve_refuses_a_bad_port(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--profile", "demo", "serve", "--port", "70000"]) == 2
    assert "not a port number" in capsys.readouterr().err
