"""Where secrets may live: the profile's secrets directory, the service manager's credentials
directory, and environment variables of msext's own (invariant 6)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.errors import SecretError, SettingsError
from engine.paths import ProfilePaths
from engine.settings.secrets import resolve_secret, write_secret_file
from engine.settings.store import validate


@pytest.fixture
def paths() -> ProfilePaths:
    paths = ProfilePaths.for_profile("t")
    paths.ensure()
    return paths


def private_file(path: Path, content: str) -> Path:
    path.write_text(content, encoding="utf-8")
    path.chmod(0o600)
    return path


@pytest.mark.parametrize(
    ("ref", "words"),
    [
        ("file:/etc/ssh/ssh_host_ed25519_key", "secrets directory"),
        ("file:~/.ssh/id_ed25519", "secrets directory"),
        ("file:~/../root/.ssh/id_rsa", "secrets directory"),
        ("file:sub/../../config.toml", "secrets directory"),
        ("file:nested/name", "secrets directory"),
        ("file:.hidden", "secrets directory"),
        ("env:HOME", "MSEXT_SECRET_"),
        ("env:AWS_SECRET_ACCESS_KEY", "MSEXT_SECRET_"),
        ("env:MSEXT_SECRET_A-B", "MSEXT_SECRET_"),
    ],
)
def test_references_outside_the_places_for_secrets_are_refused(ref: str, words: str) -> None:
    """Invariant 6: a file elsewhere (absolute, under ~, or climbing out) or any variable
    that is not msext's own is refused by the settings model, with where secrets may live."""
    for document in (
        {"exchange": {"general": {"secret": ref}}},
        {"psa": {"rest_secret": ref}},
    ):
        with pytest.raises(SettingsError) as caught:
            validate(document, origin="test")
        (message,) = caught.value.problems.values()
        assert words in message and ref not in message
    with pytest.raises(SecretError, match=words):
        resolve_secret(ref, ProfilePaths.for_profile("t"), environ={"HOME": "/root"})


def test_env_references_take_msext_secret_variables(paths: ProfilePaths) -> None:
    """Invariant 6: env:MSEXT_SECRET_* resolves; an unset one says so."""
    ref = "env:MSEXT_SECRET_EWS"
    validate({"exchange": {"general": {"secret": ref}}}, origin="test")
    assert resolve_secret(ref, paths, environ={"MSEXT_SECRET_EWS": "from-env"}) == "from-env"
    with pytest.raises(SecretError, match="is not set"):
        resolve_secret(ref, paths, environ={})


def test_a_symlink_in_the_secrets_directory_is_not_followed(
    paths: ProfilePaths, tmp_path: Path
) -> None:
    """Invariant 6: secrets/ews pointing at a private file elsewhere is refused, not read."""
    target = private_file(tmp_path / "id_rsa", "PRIVATE KEY")
    (paths.secrets_dir / "ews").symlink_to(target)
    with pytest.raises(SecretError, match="symbolic link"):
        resolve_secret("file:ews", paths)
    with pytest.raises(SecretError, match="symbolic link"):
        write_secret_file(paths, "ews", "new")
    assert target.read_text(encoding="utf-8") == "PRIVATE KEY"


def test_a_symlinked_secrets_directory_is_not_followed(paths: ProfilePaths, tmp_path: Path) -> None:
    """Invariant 6: a secrets/ directory replaced by a link to another directory is refused."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    private_file(elsewhere / "ews", "someone else's")
    paths.secrets_dir.rmdir()
    paths.secrets_dir.symlink_to(elsewhere)
    with pytest.raises(SecretError, match="symbolic link"):
        resolve_secret("file:ews", paths)


def test_a_readable_secret_file_is_refused_with_the_chmod_to_run(paths: ProfilePaths) -> None:
    """Invariant 6: group- or world-readable is refused, and the message says what to chmod."""
    secret = private_file(paths.secrets_dir / "ews", "s3cret")
    assert resolve_secret("file:ews", paths) == "s3cret"
    for mode in (0o640, 0o604):
        secret.chmod(mode)
        with pytest.raises(SecretError, match=f"chmod 600 {secret}"):
            resolve_secret("file:ews", paths)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_secret_file_of_another_user_is_refused(paths: ProfilePaths) -> None:
    """Invariant 6: a 0600 file owned by someone else is not taken as ours."""
    secret = private_file(paths.secrets_dir / "ews", "planted")
    os.chown(secret, 65534, 65534)
    with pytest.raises(SecretError, match="owned by"):
        resolve_secret("file:ews", paths)


def test_a_fifo_is_refused_without_blocking(paths: ProfilePaths) -> None:
    """Invariant 6: only regular files are secrets; a FIFO would hang the read."""
    os.mkfifo(paths.secrets_dir / "ews", 0o600)
    with pytest.raises(SecretError, match="regular file"):
        resolve_secret("file:ews", paths)


def test_the_service_managers_credentials_directory_is_read_first(
    paths: ProfilePaths, tmp_path: Path
) -> None:
    """A systemd LoadCredential= secret (in $CREDENTIALS_DIRECTORY) wins over secrets/;
    without the variable, secrets/ is read."""
    credentials = tmp_path / "credentials"
    credentials.mkdir(mode=0o700)
    private_file(credentials / "ews", "from-systemd")
    private_file(paths.secrets_dir / "ews", "from-profile")
    environ = {"CREDENTIALS_DIRECTORY": str(credentials)}
    assert resolve_secret("file:ews", paths, environ=environ) == "from-systemd"
    assert resolve_secret("file:ews", paths, environ={}) == "from-profile"
    private_file(paths.secrets_dir / "psa", "only-in-profile")
    assert resolve_secret("file:psa", paths, environ=environ) == "only-in-profile"
