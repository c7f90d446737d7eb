"""Redaction: a known secret is masked in every spelling a text can carry it, in every log
record and traceback (invariant 6)."""

from __future__ import annotations

import html
import io
import json
import logging
import re
import urllib.parse
from collections.abc import Callable, Iterator
from xml.sax.saxutils import escape, quoteattr

import pytest

from engine.logs import configure_logging
from engine.paths import ProfilePaths
from engine.redaction import MASK, redactor

SECRET = "p@ss w0rd/\"quoted\" <tag> & 'apos' ünïcode\nsecond-line-of-it\ttab\\back"

ENCODINGS: dict[str, Callable[[str], str]] = {
    "raw": str,
    "repr": repr,
    "repr of bytes": lambda text: repr(text.encode("utf-8")),
    "str of bytes": lambda text: str(text.encode("utf-8")),
    "json": json.dumps,
    "json keeping unicode": lambda text: json.dumps(text, ensure_ascii=False),
    "url path": urllib.parse.quote,
    "url component": lambda text: urllib.parse.quote(text, safe=""),
    "form": urllib.parse.quote_plus,
    "form lowercase hex": lambda text: _lower_hex(urllib.parse.quote_plus(text)),
    "xml text": escape,
    "xml attribute": quoteattr,
    "xml attribute with entities": lambda text: escape(
        text, {'"': "&quot;", "'": "&apos;", "\n": "&#10;", "\t": "&#9;"}
    ),
    "html": html.escape,
}


def _lower_hex(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda escape: escape.group().lower(), text)


@pytest.fixture(autouse=True)
def registered() -> Iterator[None]:
    redactor.register(SECRET)
    yield


@pytest.mark.parametrize("encoding", ENCODINGS, ids=list(ENCODINGS))
def test_every_spelling_of_a_secret_is_masked(encoding: str) -> None:
    """Invariant 6: repr, bytes, JSON, URL-encoded and XML/HTML-escaped forms are masked."""
    encoded = ENCODINGS[encoding](SECRET)
    text = redactor.redact(f"request failed: {encoded} (retrying)")
    assert MASK in text
    for line in SECRET.splitlines():
        assert ENCODINGS[encoding](line).strip("'\"") not in text


def test_each_line_of_a_multi_line_secret_is_masked_alone() -> None:
    """Invariant 6: a PEM key or a secret with a line break leaks line by line in a
    traceback's source excerpt or a wrapped message; each long line is masked."""
    text = redactor.redact("header value 'second-line-of-it\\ttab\\\\back' refused")
    assert "second-line-of-it" not in text


def test_a_traceback_in_the_log_file_is_masked() -> None:
    """Invariant 6: log.exception writes the traceback with the secret in the exception's
    text (raw and repr) masked."""
    paths = ProfilePaths.for_profile("t")
    configure_logging(paths)
    try:
        raise ValueError(f"Illegal header value {SECRET.encode()!r} for {SECRET}")
    except ValueError:
        logging.getLogger("msext.test").exception("the request failed")
    for handler in logging.getLogger().handlers:
        handler.flush()
    written = paths.log_file.read_text(encoding="utf-8")
    assert "Traceback" in written and "the request failed" in written
    assert "second-line-of-it" not in written and "p@ss w0rd" not in written


def test_every_handler_gets_masked_records() -> None:
    """Invariant 6: a handler msext did not install (a library's, a service manager's
    stderr) receives the message, its arguments and the traceback already masked."""
    paths = ProfilePaths.for_profile("t")
    configure_logging(paths)
    stream = io.StringIO()
    foreign = logging.StreamHandler(stream)
    foreign.setFormatter(logging.Formatter("%(message)s"))
    logging.getLogger().addHandler(foreign)
    try:
        try:
            raise RuntimeError(repr(SECRET))
        except RuntimeError:
            logging.getLogger("somelib").error("login %s refused", SECRET, exc_info=True)
        logging.getLogger("somelib").warning("sent %r", json.dumps({"password": SECRET}))
    finally:
        logging.getLogger().removeHandler(foreign)
    written = stream.getvalue()
    assert "login ******** refused" in written and "RuntimeError" in written
    assert "second-line-of-it" not in written and "p@ss" not in written
