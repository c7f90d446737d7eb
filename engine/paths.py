"""Where a profile keeps its configuration, data, state and logs.

Every profile is isolated: its own config file, secrets, embedded PSA, state database
and logs, under the platformdirs directories (so the ``XDG_*`` variables move them).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from engine.errors import UserError

APP_NAME = "msext"
DEFAULT_PROFILE = "default"
DEMO_PROFILE = "demo"
_PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class ProfilePaths:
    """The files of one profile; nothing is created until :meth:`ensure` is called."""

    name: str
    config_dir: Path
    data_dir: Path
    state_dir: Path
    log_dir: Path

    @classmethod
    def for_profile(cls, name: str = DEFAULT_PROFILE) -> ProfilePaths:
        if not _PROFILE_NAME.match(name):
            raise UserError(
                f"invalid profile name {name!r}: use letters, digits, '.', '_' or '-'"
                " (at most 64 characters)"
            )
        return cls(
            name=name,
            config_dir=platformdirs.user_config_path(APP_NAME) / name,
            data_dir=platformdirs.user_data_path(APP_NAME) / name,
            state_dir=platformdirs.user_state_path(APP_NAME) / name,
            log_dir=platformdirs.user_log_path(APP_NAME) / name,
        )

    @staticmethod
    def existing() -> list[str]:
        """The names of the profiles that have a settings file, sorted."""
        root = platformdirs.user_config_path(APP_NAME)
        if not root.is_dir():
            return []
        return sorted(entry.name for entry in root.iterdir() if (entry / "config.toml").is_file())

    def exists(self) -> bool:
        """Whether the profile was made (by the setup wizard, ``msext demo`` or ``config``)."""
        return self.config_file.is_file()

    def command(self, *words: str) -> str:
        """An ``msext`` command line for this profile that works as printed."""
        profile = () if self.name == DEFAULT_PROFILE else ("--profile", self.name)
        return shlex.join(("msext", *profile, *words))

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def secrets_dir(self) -> Path:
        """Secret files referenced as ``file:`` from the config; each one mode 0600."""
        return self.config_dir / "secrets"

    @property
    def installation_file(self) -> Path:
        """This installation's id, written into every stamp (``engine.installation``); kept
        beside the settings so that a lost state database keeps it."""
        return self.config_dir / "installation-id"

    @property
    def psa_db(self) -> Path:
        return self.data_dir / "psa.sqlite"

    @property
    def sandbox_db(self) -> Path:
        return self.data_dir / "ews-sandbox.sqlite"

    @property
    def workflows_sandbox_db(self) -> Path:
        """The sandbox's Workflows webhooks and the cards they received."""
        return self.data_dir / "workflows-sandbox.sqlite"

    @property
    def state_db(self) -> Path:
        return self.state_dir / "state.sqlite"

    @property
    def adsync_db(self) -> Path:
        return self.state_dir / "adsync.sqlite"

    @property
    def teams_db(self) -> Path:
        """MS Teams' outbox and error log."""
        return self.state_dir / "teams.sqlite"

    @property
    def events_db(self) -> Path:
        """msext's own happenings (``engine.events``), which the Teams rules read."""
        return self.state_dir / "events.sqlite"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "msext.log"

    def ensure(self) -> None:
        """Create the profile's directories, private to the current user."""
        for directory in (self.config_dir, self.secrets_dir, self.data_dir, self.state_dir):
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)

    def as_dict(self) -> dict[str, str]:
        return {
            "profile": self.name,
            "config_file": str(self.config_file),
            "secrets_dir": str(self.secrets_dir),
            "psa_db": str(self.psa_db),
            "state_db": str(self.state_db),
            "log_file": str(self.log_file),
        }
