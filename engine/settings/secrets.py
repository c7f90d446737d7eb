"""Secret references: where secrets may live (invariant 6: secrets reach only their server).

The config file holds only references: ``env:MSEXT_SECRET_NAME`` (a variable of msext's own,
never one of the host's) or ``file:NAME`` (a file in the profile's secrets directory, or one
the service manager passed in ``$CREDENTIALS_DIRECTORY``; never a path elsewhere). A secret
file is opened without following links, must be a regular file of the user msext runs as,
and readable by that user only; otherwise a reference could send any private file or token
of the host to a server the settings point at.

Every resolved secret is registered with the process-wide redactor
(:mod:`engine.redaction`), which every log record, the CLI and the diagnostic reports pass
through.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from engine.errors import SecretError
from engine.paths import ProfilePaths
from engine.redaction import redactor

ENV_PREFIX = "MSEXT_SECRET_"
"""The only variables an ``env:`` reference may name: msext's own, not the host's."""
CREDENTIALS_VARIABLE = "CREDENTIALS_DIRECTORY"
"""Where a service manager puts the credentials it passes (systemd's ``LoadCredential=``)."""
MAX_SECRET_BYTES = 64 * 1024
"""Enough for a PEM certificate with its private key; more is not a secret of ours."""
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_ENV_NAME = re.compile(rf"^{ENV_PREFIX}[A-Za-z0-9_]+$")
ROOT_UID = 0


@dataclass(frozen=True)
class SecretRef:
    """A parsed reference: ``env:MSEXT_SECRET_NAME`` or ``file:NAME``."""

    kind: str
    name: str


def parse_secret_ref(ref: str) -> SecretRef:
    """The reference, or a ``ValueError`` saying where secrets may live.

    The message never repeats the value, which may be a password typed in by mistake.
    """
    kind, _, name = ref.partition(":")
    if kind == "env":
        if not _ENV_NAME.match(name):
            raise ValueError(
                f"an env: reference names a variable of msext's own, {ENV_PREFIX}NAME"
                f" (for example env:{ENV_PREFIX}EWS)"
            )
    elif kind == "file":
        if not _FILE_NAME.match(name):
            raise ValueError(
                "a file: reference names a file in the profile's secrets directory or in the"
                f" service manager's ${CREDENTIALS_VARIABLE} (file:NAME, no path); move the"
                " file there"
            )
    else:
        raise ValueError(
            f"must be a secret reference, env:{ENV_PREFIX}NAME or file:NAME; secrets are never"
            " stored in the config file"
        )
    return SecretRef(kind, name)


def resolve_secret(ref: str, paths: ProfilePaths, environ: Mapping[str, str] | None = None) -> str:
    """The secret a reference points to; registered for redaction before it is returned.

    ``file:NAME`` is read from ``$CREDENTIALS_DIRECTORY`` when the service manager passed a
    credential of that name, else from the profile's secrets directory.
    """
    environ = os.environ if environ is None else environ
    try:
        parsed = parse_secret_ref(ref)
    except ValueError as error:
        raise SecretError(str(error)) from None
    if parsed.kind == "env":
        value = environ.get(parsed.name, "")
        if not value:
            raise SecretError(f"the environment variable {parsed.name} named by {ref} is not set")
    else:
        value = _read_private_file(*_secret_location(parsed.name, paths, environ))
    redactor.register(value)
    return value


def _secret_location(
    name: str, paths: ProfilePaths, environ: Mapping[str, str]
) -> tuple[Path, str, frozenset[int]]:
    """The directory holding secret ``name``, and whose files may be there.

    A service manager may own its credentials (root): root can read every file anyway.
    """
    credentials = environ.get(CREDENTIALS_VARIABLE)
    if credentials and os.path.lexists(Path(credentials) / name):
        return Path(credentials), name, frozenset({os.geteuid(), ROOT_UID})
    return paths.secrets_dir, name, frozenset({os.geteuid()})


def _open_directory(directory: Path, owners: frozenset[int]) -> int:
    """The directory, opened without following a link, checked to be private to us."""
    try:
        descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise SecretError(f"the secrets directory {directory} does not exist") from None
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            raise SecretError(
                f"{directory} is a symbolic link or not a directory; secrets are read from"
                " a real directory only"
            ) from None
        raise SecretError(f"cannot open {directory}: {error.strerror}") from None
    info = os.fstat(descriptor)
    problem = _ownership_problem(directory, info, owners, 0o022, "chmod go-w")
    if problem:
        os.close(descriptor)
        raise SecretError(problem)
    return descriptor


def _ownership_problem(
    path: Path, info: os.stat_result, owners: frozenset[int], forbidden: int, fix: str
) -> str | None:
    if info.st_uid not in owners:
        return (
            f"{path} is owned by uid {info.st_uid}, not by the user msext runs as"
            f" (uid {os.geteuid()}); run: chown {os.geteuid()} {path}"
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & forbidden:
        return f"{path} is open to others (mode {mode:o}); run: {fix} {path}"
    return None


def _read_private_file(directory: Path, name: str, owners: frozenset[int]) -> str:
    """Read ``directory/name`` without following links: a regular file of ours, 0600."""
    path = directory / name
    directory_fd = _open_directory(directory, owners)
    try:
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY
        descriptor = os.open(name, flags, dir_fd=directory_fd)
    except FileNotFoundError:
        raise SecretError(f"the secret file {path} does not exist") from None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise SecretError(
                f"the secret file {path} is a symbolic link; put the secret itself there"
            ) from None
        raise SecretError(f"the secret file {path} cannot be read: {error.strerror}") from None
    finally:
        os.close(directory_fd)
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise SecretError(f"the secret file {path} is not a regular file")
        problem = _ownership_problem(path, info, owners, 0o077, "chmod 600")
        if problem:
            raise SecretError(f"the secret file {problem}")
        raw = handle.read(MAX_SECRET_BYTES + 1)
    if len(raw) > MAX_SECRET_BYTES:
        raise SecretError(f"the secret file {path} is larger than 64 KiB")
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise SecretError(f"the secret file {path} is not UTF-8 text") from None


def write_secret_file(paths: ProfilePaths, name: str, value: str) -> str:
    """Store a secret in the profile's secrets directory (mode 0600); returns its reference.

    A link planted under that name is refused, never written through.
    """
    ref = f"file:{name}"
    parse_secret_ref(ref)
    paths.ensure()
    path = paths.secrets_dir / name
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise SecretError(f"{path} is a symbolic link; remove it and save again") from None
        raise SecretError(f"cannot write the secret file {path}: {error.strerror}") from None
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.truncate()
        handle.write(value)
    redactor.register(value)
    return ref
