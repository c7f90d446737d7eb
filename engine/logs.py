"""Logging to the profile's log file, with every known secret redacted (invariant 6)."""

from __future__ import annotations

import logging
import logging.handlers

from engine.paths import ProfilePaths
from engine.settings.secrets import RedactingFilter

_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure_logging(paths: ProfilePaths, level: int = logging.INFO) -> None:
    """Send the engine's records to ``msext.log`` (rotated); nothing goes to the terminal."""
    paths.ensure()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_msext", False):
            root.removeHandler(handler)
            handler.close()
    handler = logging.handlers.RotatingFileHandler(
        paths.log_file, maxBytes=5 * 1024 * 1024, backupCount=3, encoding="utf-8"
    )
    handler._msext = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(level)
    paths.log_file.chmod(0o600)
    for noisy in ("exchangelib", "urllib3", "requests_ntlm", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
