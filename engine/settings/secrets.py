"""Secret references and redaction (invariant 6: secrets never reach logs, screens or reports).

The config file holds only references: ``env:VARIABLE`` or ``file:PATH`` (relative paths are
inside the profile's secrets directory). A secret file must be readable by its owner only.
Every resolved secret is registered with the process-wide :data:`redactor`, which the log
handlers, the CLI and the diagnostic reports run their text through.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from collections.abc import Mapping
from pathlib import Path

from engine.errors import SecretError
from engine.paths import ProfilePaths

MASK = "********"


class Redactor:
    """Replaces every known secret value in a text with :data:`MASK`."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def register(self, secret: str) -> None:
        if secret:
            with self._lock:
                self._secrets.add(secret)

    def redact(self, text: str) -> str:
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for secret in secrets:
            text = text.replace(secret, MASK)
        return text


redactor = Redactor()


class RedactingFilter(logging.Filter):
    """Scrubs secrets from a log record's final message before any handler writes it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redactor.redact(record.getMessage())
        record.args = None
        if record.exc_text:
            record.exc_text = redactor.redact(record.exc_text)
        return True


def secret_path(ref_target: str, paths: ProfilePaths) -> Path:
    path = Path(ref_target).expanduser()
    return path if path.is_absolute() else paths.secrets_dir / path


def resolve_secret(ref: str, paths: ProfilePaths, environ: Mapping[str, str] | None = None) -> str:
    """The secret a reference points to; registered for redaction before it is returned."""
    environ = os.environ if environ is None else environ
    kind, _, target = ref.partition(":")
    if kind == "env":
        if target not in environ or not environ[target]:
            raise SecretError(f"the environment variable {target} named by {ref} is not set")
        value = environ[target]
    elif kind == "file":
        value = _read_private_file(secret_path(target, paths))
    else:
        raise SecretError("a secret reference must be env:VARIABLE or file:PATH")
    redactor.register(value)
    return value


def _read_private_file(path: Path) -> str:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise SecretError(f"the secret file {path} does not exist") from None
    if stat.S_IMODE(mode) & 0o077:
        raise SecretError(
            f"the secret file {path} is readable by others (mode {stat.S_IMODE(mode):o});"
            f" run: chmod 600 {path}"
        )
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise SecretError(f"the secret file {path} cannot be read: {error}") from None


def write_secret_file(paths: ProfilePaths, name: str, value: str) -> str:
    """Store a secret in the profile's secrets directory (mode 0600); returns its reference."""
    paths.ensure()
    path = paths.secrets_dir / name
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(value)
    path.chmod(0o600)
    redactor.register(value)
    return f"file:{name}"
