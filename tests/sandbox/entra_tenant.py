"""A Graph emulator serving a tenant's directory alone (no mailboxes), to an app registration
granted what AD Sync needs: the peer of the directory tests and of the Entra ID reader's."""

from __future__ import annotations

from typing import Any

from engine.sandbox.graph import GraphEmulator
from engine.settings.adsync import ENTRA_ID_PERMISSIONS

TENANT = "4f1c2a9e-8b3d-4e6f-a7c5-1d2e3f4a5b6c"
CLIENT = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"
SECRET = "entra~S3cret"
MISSING_GROUP = "00000000-0000-4000-8000-000000000000"


def tenant_peer(**options: Any) -> GraphEmulator:
    """Not started yet: ``with tenant_peer() as peer`` serves it."""
    return GraphEmulator(None, TENANT, CLIENT, SECRET, roles=ENTRA_ID_PERMISSIONS, **options)
