"""Reading and writing a profile's settings: TOML file, environment overrides, atomic saves.

The file holds what the administrator saved; ``MSEXT_SECTION__KEY`` environment variables
override it for one process and are never written back. A save validates first, keeps the
previous file as ``config.toml.bak``, writes a temporary file (mode 0600) and renames it
over the old one, so a crash leaves either the old or the new file, never half of one.
"""

from __future__ import annotations

import os
import shutil
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import BaseModel, ValidationError
from pydantic_settings import EnvSettingsSource

from engine.errors import SettingsError, UserError
from engine.paths import ProfilePaths
from engine.settings.model import FieldRuleError, Settings

ENV_PREFIX = "MSEXT_"
MAX_CONFIG_BYTES = 1024 * 1024


class SettingsStore:
    """The settings of one profile."""

    def __init__(self, paths: ProfilePaths, environ: Mapping[str, str] | None = None) -> None:
        self.paths = paths
        self._environ = os.environ if environ is None else environ

    @property
    def path(self) -> Path:
        return self.paths.config_file

    @property
    def backup_path(self) -> Path:
        return self.path.with_suffix(".toml.bak")

    def exists(self) -> bool:
        return self.path.exists()

    def read_document(self) -> dict[str, Any]:
        """The saved file as data; an absent file is an empty configuration."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as error:
            raise UserError(f"cannot read {self.path}: {error.strerror}") from None
        if len(raw) > MAX_CONFIG_BYTES:
            raise UserError(f"{self.path} is larger than 1 MiB; it is not a config file of ours")
        try:
            return tomllib.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as error:
            raise UserError(
                f"{self.path} is not UTF-8 text (byte {error.start}); save it as UTF-8"
            ) from None
        except tomllib.TOMLDecodeError as error:
            raise UserError(f"{self.path} is not valid TOML: {error}") from None

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

    def load(self) -> Settings:
        """The effective settings: the saved file with the environment's overrides on top."""
        document = _deep_merge(self.read_document(), self.env_overrides())
        return validate(document, origin=f"{self.path} and {ENV_PREFIX}* variables")

    def load_saved(self) -> Settings:
        """The settings exactly as saved, without environment overrides."""
        return validate(self.read_document(), origin=str(self.path))

    def save(self, settings: Settings) -> None:
        """Validate again, then replace the file atomically, keeping a backup of the old one."""
        document = settings.model_dump(mode="json", exclude_unset=True, exclude_none=True)
        validate(document, origin="the new settings")
        self.paths.ensure()
        if self.path.exists():
            shutil.copyfile(self.path, self.backup_path)
            self.backup_path.chmod(0o600)
        _write_atomically(self.path, tomli_w.dumps(document).encode("utf-8"))

    def set_value(self, key: str, raw: str) -> Settings:
        """Set one dotted key from text; nothing is saved when the result breaks a rule."""
        path = key.split(".")
        value = parse_value(path, raw)
        document = self.read_document()
        _assign(document, path, value)
        settings = validate(document, origin=key)
        self.save(settings)
        return settings

    def unset_value(self, key: str) -> Settings:
        """Return one dotted key to its default."""
        path = key.split(".")
        field_annotation(path)
        document = self.read_document()
        _remove(document, path)
        settings = validate(document, origin=key)
        self.save(settings)
        return settings


def validate(document: Mapping[str, Any], origin: str) -> Settings:
    """Settings from data, or a :class:`SettingsError` naming each bad key."""
    try:
        return Settings.model_validate(document)
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
