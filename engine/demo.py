"""The demo profile: an embedded PSA with demo data, and settings that point at the emulator.

Its users are chosen so that every diagnosis has an example: a healthy user, a user with
the contact conflict between the two modules, a user whose mailbox the synchronization
account may not impersonate, a user not enabled for the extension, an inactive resource.
"""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass
from datetime import date

from engine.paths import ProfilePaths
from engine.psa.demo import DEMO_DOMAIN, DEMO_SEED, seed_demo_psa
from engine.psa.embedded import EmbeddedPsa
from engine.settings.model import (
    AuthType,
    ExchangeVersion,
    Settings,
)
from engine.settings.secrets import write_secret_file
from engine.settings.store import SettingsStore

SERVICE_ACCOUNT = f"svc-msext@{DEMO_DOMAIN}"
SECRET_NAME = "ews-service-account"
ENABLED_RESOURCES = range(1, 26)


@dataclass(frozen=True)
class DemoRoles:
    """Resource ids of the demo users that show one situation each."""

    healthy: int = 1
    contact_conflict: int = 2
    impersonation_denied: int = 3
    not_enabled: int = 4
    outlook_only_limits: int = 6


ROLES = DemoRoles()


def demo_settings() -> dict[str, object]:
    """The demo's configuration document (validated by :class:`Settings`)."""
    resources = {
        str(resource_id): {"enabled": resource_id != ROLES.not_enabled}
        for resource_id in ENABLED_RESOURCES
    }
    return {
        "exchange": {
            "general": {
                "enabled": True,
                "sync_account": SERVICE_ACCOUNT,
                "secret": f"file:{SECRET_NAME}",
                "auth_type": AuthType.BASIC.value,
                "exchange_version": ExchangeVersion.EXCHANGE_2016.value,
                "error_recipients": [f"it-support@{DEMO_DOMAIN}"],
            },
            "sync": {"interval_minutes": 30, "contact_scope": "owned"},
            "resources": resources,
        },
        "outlook": {"limits": {"allow_service_calls": False, "min_interval_minutes": 15}},
        "users": {
            str(ROLES.contact_conflict): {
                "outlook": {"installed": True, "version": "2024.2", "contact_integration": True}
            },
            "5": {"outlook": {"installed": True, "version": "2023.4"}},
            str(ROLES.outlook_only_limits): {
                "outlook": {"installed": True, "version": "2024.2", "service_calls": True},
            },
        },
        "psa": {"web_url": "https://psa.contoso.example"},
        "sandbox": {"enabled": True},
    }


def create_demo_profile(paths: ProfilePaths, today: date, reset: bool = False) -> bool:
    """Create the demo profile unless it exists; returns whether anything was created."""
    if reset:
        for directory in (paths.config_dir, paths.data_dir, paths.state_dir):
            shutil.rmtree(directory, ignore_errors=True)
    store = SettingsStore(paths)
    if store.exists() and paths.psa_db.exists():
        return False
    paths.ensure()
    paths.psa_db.unlink(missing_ok=True)
    psa = EmbeddedPsa(paths.psa_db)
    try:
        seed_demo_psa(psa, today, seed=DEMO_SEED)
    finally:
        psa.close()
    write_secret_file(paths, SECRET_NAME, secrets.token_urlsafe(18))
    store.save(Settings.model_validate(demo_settings()))
    return True
