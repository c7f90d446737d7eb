"""Reading and writing a profile's settings: TOML file, environment overrides, atomic saves.

The file holds what the administrator saved; ``MSEXT_SECTION__KEY`` environment variables
override it for one process and are never written back. A save validates first, keeps the
previous file as ``config.toml.bak`` when it was good, writes a temporary file (mode 0600)
and renames it over the old one, so a crash leaves either the old or the new file, never
half of one. Saves hold an exclusive ``flock`` on ``config.toml.lock`` for their whole
read-modify-write, so concurrent ``config set`` calls from several processes each keep
their key.

A file can still lose its end outside msext (a copy cut short, a restore from a full
disk), and TOML read up to any line boundary is usually valid TOML: the settings it lost
would silently fall back to their defaults. So msext writes a first line saying so and a
last line marking the end, and refuses a file that has the first without the last. A
checksum would catch more, but would also refuse every hand edit; the marker keeps the file
editable (anything above the last line) while catching truncation, the damage TOML cannot
see. A file written by hand without the first line is taken as it is.

A save never writes a file larger than msext reads, so every command keeps working; a file
made too large elsewhere can still be shown and shrunk with ``config unset``.
"""

from __future__ import annotations

import fcntl
import os
import tomllib
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import BaseModel, ValidationError
from pydantic_settings import EnvSettingsSource

from engine.errors import SettingsError, UserError
from engine.paths import ProfilePaths
from engine.settings.model import PSA_PEOPLE, FieldRuleError, Person, Settings

ENV_PREFIX = "MSEXT_"
MAX_CONFIG_BYTES = 1024 * 1024
"""What every command reads; a save never writes more."""
MAX_REPAIR_BYTES = 32 * MAX_CONFIG_BYTES
"""What ``config show`` and ``config unset`` still read, so a file too large can be mended."""
FIRST_LINE = "# msext settings: keep the last line, it shows that the file is whole"
LAST_LINE = "# end of msext settings"


class SettingsStore:
    """The settings of one profile."""

    def __init__(self, paths: ProfilePaths, environ: Mapping[str, str] | None = None) -> None:
        self.paths = paths
        self._environ = os.environ if environ is None else environ
        self.people: Callable[[], Mapping[int, Person]] | None = None
        """The PSA's resources (id -> name, e-mail), when the profile can read them: a save
        then refuses a mailbox that is another resource's PSA e-mail."""

    def people_for(self, document: Mapping[str, Any]) -> Mapping[int, Person]:
        """Asked only when a mailbox is set explicitly; a PSA that cannot be read leaves the
        comparison to the run, which checks again."""
        resources = (document.get("exchange") or {}).get("resources") or {}
        if self.people is None or not any(
            (entry or {}).get("mailbox") for entry in resources.values()
        ):
            return {}
        try:
            return self.people()
        except (UserError, OSError):
            return {}

    @property
    def path(self) -> Path:
        return self.paths.config_file

    @property
    def backup_path(self) -> Path:
        return self.path.with_suffix(".toml.bak")

    def exists(self) -> bool:
        return self.path.exists()

    def read_document(self, limit: int = MAX_CONFIG_BYTES) -> dict[str, Any]:
        """The saved file as data; an absent file is an empty configuration."""
        try:
            with self.path.open("rb") as handle:
                raw = handle.read(limit + 1)
        except FileNotFoundError:
            return {}
        except OSError as error:
            raise UserError(f"cannot read {self.path}: {error.strerror}") from None
        if len(raw) > limit:
            raise UserError(
                f"{self.path} is larger than {limit // MAX_CONFIG_BYTES} MiB, more than msext"
                " reads; shrink it with: msext config show, then msext config unset KEY"
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise self._damaged(f"is not UTF-8 text (byte {error.start})") from None
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise self._damaged(f"is not valid TOML ({error})") from None
        if text.startswith(FIRST_LINE) and f"\n{LAST_LINE}\n" not in text:
            raise self._damaged(f"is cut short (its last line, {LAST_LINE!r}, is missing)")
        return document

    def too_large(self) -> bool:
        """Whether the file is over the size every command reads (``config show`` says so)."""
        try:
            return self.path.stat().st_size > MAX_CONFIG_BYTES
        except FileNotFoundError:
            return False

    def _damaged(self, what: str) -> UserError:
        """A damaged file: the one line names it and the last good one, when there is one."""
        remedy = (
            f"; the last good one is {self.backup_path.name}: cp {self.backup_path} {self.path}"
            if self.backup_path.exists()
            else f"; fix it, or remove it to start from the defaults (no {self.backup_path.name})"
        )
        return UserError(f"{self.path} {what}{remedy}")

    def env_overrides(self) -> dict[str, Any]:
        """Values the environment sets, nested like the file (``MSEXT_A__B`` -> a.b)."""
        source = EnvSettingsSource(
            Settings,
            env_prefix=ENV_PREFIX,
            env_nested_delimiter="__",
            case_sensitive=False,
        )
        source.env_vars = {key.lower(): value for key, value in self._environ.items()}
        return source()

    def load(self, limit: int = MAX_CONFIG_BYTES) -> Settings:
        """The effective settings: the saved file with the environment's overrides on top."""
        document = _deep_merge(self.read_document(limit), self.env_overrides())
        return validate(document, origin=f"{self.path} and {ENV_PREFIX}* variables")

    def load_saved(self) -> Settings:
        """The settings exactly as saved, without environment overrides."""
        return validate(self.read_document(), origin=str(self.path))

    def save(self, settings: Settings) -> None:
        """Validate again, then replace the file atomically, keeping the last good one."""
        with self._locked():
            self._save(settings)

    def set_value(self, key: str, raw: str) -> Settings:
        """Set one dotted key from text; nothing is saved when the result breaks a rule."""
        path = key.split(".")
        value = parse_value(path, raw)
        with self._locked():
            document = self.read_document()
            _assign(document, path, value)
            settings = validate(document, origin=key)
            self._save(settings)
        return settings

    def update(self, change: Callable[[dict[str, Any]], None], origin: str) -> Settings:
        """Apply ``change`` to the saved document and save it; nothing is saved when the
        result breaks a rule (:class:`SettingsError` names each bad key)."""
        with self._locked():
            document = self.read_document()
            change(document)
            settings = validate(document, origin=origin, people=self.people_for(document))
            self._save(settings)
        return settings

    def unset_value(self, key: str) -> Settings:
        """Return one dotted key to its default; works on a file grown too large, as long
        as the result is smaller (the way to mend it)."""
        path = key.split(".")
        field_annotation(path)
        with self._locked():
            document = self.read_document(limit=MAX_REPAIR_BYTES)
            _remove(document, path)
            settings = validate(document, origin=key)
            self._save(settings, shrinking=self.too_large())
        return settings

    def _save(self, settings: Settings, shrinking: bool = False) -> None:
        document = settings.model_dump(mode="json", exclude_unset=True, exclude_none=True)
        validate(document, origin="the new settings", people=self.people_for(document))
        content = f"{FIRST_LINE}\n{tomli_w.dumps(document)}{LAST_LINE}\n".encode()
        if len(content) > MAX_CONFIG_BYTES and not (
            shrinking and len(content) < self.path.stat().st_size
        ):
            raise UserError(
                f"the settings would take {len(content):,} bytes, more than the"
                f" {MAX_CONFIG_BYTES:,} msext reads; nothing saved"
            )
        self.paths.ensure()
        self._keep_last_good()
        _write_atomically(self.path, content)

    def _keep_last_good(self) -> None:
        """Copy the current file to ``config.toml.bak`` if it is whole and valid; a damaged
        file never replaces the last good one."""
        try:
            validate(self.read_document(), origin=str(self.path))
            good = self.path.read_bytes()
        except (UserError, FileNotFoundError):
            return
        _write_atomically(self.backup_path, good)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the profile's settings lock (``config.toml.lock``) across processes."""
        self.paths.ensure()
        descriptor = os.open(
            self.path.with_name("config.toml.lock"), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600
        )
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)


def validate(
    document: Mapping[str, Any], origin: str, people: Mapping[int, Person] | None = None
) -> Settings:
    """Settings from data, or a :class:`SettingsError` naming each bad key; ``people`` (the
    PSA's resources) lets the check of mailboxes count the resources' PSA e-mails too."""
    try:
        return Settings.model_validate(document, context={PSA_PEOPLE: people or {}})
    except ValidationError as error:
        raise SettingsError(problems_of(error)) from None
    except RecursionError:
        raise UserError(f"{origin} is nested too deeply") from None


def validate_section(document: Mapping[str, Any], section: str) -> BaseModel:
    """One top-level section alone (e.g. ``psa``), so that a check of it never fails on
    another section's keys; problems are named by their full dotted key."""
    model = Settings.model_fields[section].annotation
    assert isinstance(model, type) and issubclass(model, BaseModel)
    try:
        return model.model_validate(document.get(section) or {})
    except ValidationError as error:
        problems = problems_of(error)
        raise SettingsError({f"{section}.{key}": text for key, text in problems.items()}) from None


def problems_of(error: ValidationError) -> dict[str, str]:
    """Dotted key -> message, phrased for people (never repeating the rejected value)."""
    problems: dict[str, str] = {}
    for item in error.errors():
        location = [str(part) for part in item["loc"]]
        cause = (item.get("ctx") or {}).get("error")
        if isinstance(cause, FieldRuleError):
            location.append(cause.field)
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown setting"
        elif item["type"] in ("int_parsing", "int_type", "int_from_float"):
            message = "enter a whole number"
        problems.setdefault(".".join(location) or "settings", message)
    return problems


def field_annotation(path: list[str]) -> Any:
    """The type annotation of a dotted key, or a :class:`UserError` if no such setting."""
    current: Any = Settings
    for depth, segment in enumerate(path):
        current = _unwrap_optional(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(segment)
            if field is None:
                raise UserError(f"unknown setting {'.'.join(path[: depth + 1])}")
            current = field.annotation
        elif typing.get_origin(current) is dict:
            key_type, value_type = typing.get_args(current)
            if key_type is int and not segment.isdigit():
                raise UserError(
                    f"{'.'.join(path[:depth])} is keyed by a PSA resource id (a number)"
                )
            current = value_type
        else:
            raise UserError(f"unknown setting {'.'.join(path[: depth + 1])}")
    return current


def parse_value(path: list[str], raw: str) -> Any:
    """Text from the command line as the data the setting expects.

    Scalars stay text and are converted by the model (so its messages apply); list
    settings take a TOML array (``["a@x.com"]``) or comma-separated items.
    """
    annotation = _unwrap_optional(field_annotation(path))
    origin = typing.get_origin(annotation)
    if (isinstance(annotation, type) and issubclass(annotation, BaseModel)) or origin is dict:
        raise UserError(f"{'.'.join(path)} is a section; set one of its keys")
    if origin is list:
        text = raw.strip()
        if text.startswith("["):
            try:
                return tomllib.loads(f"value = {text}")["value"]
            except tomllib.TOMLDecodeError as error:
                raise UserError(f"{'.'.join(path)}: not a valid list: {error}") from None
        return [item.strip() for item in text.split(",") if item.strip()]
    return raw


def flat_keys(document: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The dotted keys a nested document sets, e.g. for listing environment overrides."""
    keys: list[str] = []
    for key, value in document.items():
        if isinstance(value, Mapping):
            keys.extend(flat_keys(value, f"{prefix}{key}."))
        else:
            keys.append(f"{prefix}{key}")
    return keys


def _unwrap_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(members) == 1:
            return _unwrap_optional(members[0])
    return annotation


def _assign(document: dict[str, Any], path: list[str], value: Any) -> None:
    node = document
    for segment in path[:-1]:
        child = node.setdefault(segment, {})
        if not isinstance(child, dict):
            raise UserError(f"{segment} in the config file is not a section")
        node = child
    node[path[-1]] = value


def _remove(document: dict[str, Any], path: list[str]) -> None:
    node: Any = document
    for segment in path[:-1]:
        node = node.get(segment) if isinstance(node, dict) else None
        if node is None:
            return
    if isinstance(node, dict):
        node.pop(path[-1], None)


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _write_atomically(path: Path, content: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.chmod(0o600)
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
