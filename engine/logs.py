"""Logging to the profile's log file, with every known secret redacted (invariant 6).

Records are masked when they are made (message, arguments, traceback, stack), so every
handler, ours or a library's, only ever sees masked text; the file handler masks its
finished lines once more, for a secret registered after a record was made.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from collections.abc import Callable
from typing import Any

from engine.paths import ProfilePaths
from engine.redaction import redactor

_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
_TRACEBACKS = logging.Formatter()


class LogFile(logging.handlers.RotatingFileHandler):
    """The profile's log file; a record it cannot write (a full disk) is dropped quietly.

    logging's default prints a traceback on stderr for each such record; the run that
    cannot write reports the disk itself in one line, and the log goes on once there is
    space again.
    """

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        if not isinstance(sys.exc_info()[1], OSError):
            super().handleError(record)


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redactor.redact(super().format(record))


def redact_record(record: logging.LogRecord) -> None:
    """Replace a record's message, arguments, traceback and stack by their masked text."""
    try:
        message = record.getMessage()
    except Exception:
        return
    record.msg, record.args = redactor.redact(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = _TRACEBACKS.formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redactor.redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redactor.redact(record.stack_info)


def _redacting_factory(make: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        redact_record(record)
        return record

    factory.redacts = True  # type: ignore[attr-defined]
    return factory


def redact_every_record() -> None:
    """Mask every log record of this process from now on, whoever handles it."""
    current = logging.getLogRecordFactory()
    if not getattr(current, "redacts", False):
        logging.setLogRecordFactory(_redacting_factory(current))


def configure_logging(paths: ProfilePaths, level: int = logging.INFO) -> None:
    """Send the engine's records to ``msext.log`` (rotated); nothing goes to the terminal."""
    redact_every_record()
    paths.ensure()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_msext", False):
            root.removeHandler(handler)
            handler.close()
    handler = LogFile(paths.log_file, maxBytes=5 * 1024 * 1024, backupCount=3, encoding="utf-8")
    handler._msext = True  # type: ignore[attr-defined]
    handler.setFormatter(RedactingFormatter(_FORMAT))
    root.addHandler(handler)
    root.setLevel(level)
    paths.log_file.chmod(0o600)
    for noisy in ("exchangelib", "urllib3", "requests_ntlm", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
