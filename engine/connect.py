"""Opening a profile's Exchange connection, starting the embedded emulator when configured."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from engine.errors import UserError
from engine.paths import ProfilePaths
from engine.settings.model import Settings
from engine.settings.secrets import resolve_secret

if TYPE_CHECKING:
    from engine.mailbox.ews import EwsConnector


def service_secret(settings: Settings, paths: ProfilePaths) -> str:
    general = settings.exchange.general
    if general.secret is None:
        raise UserError(
            "set the secret reference of the synchronization account on the General tab"
            " (exchange.general.secret)"
        )
    return resolve_secret(general.secret, paths)


def _allow_loopback_oauth() -> None:
    """The emulator's token endpoint is plain http on 127.0.0.1; oauthlib refuses http
    unless told otherwise. Only a profile whose Exchange is the emulator gets here, and its
    process talks to nothing else."""
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"


@contextmanager
def exchange_connector(
    settings: Settings, paths: ProfilePaths, secret: str | None = None
) -> Iterator[EwsConnector]:
    """The EWS connection of a profile; with ``sandbox.enabled`` it is the local emulator.

    ``secret`` is the synchronization account's secret when it is not saved yet (the setup
    wizard tests what is typed before anything is written).
    """
    # exchangelib takes a sixth of a second to import: only code that connects pays for it
    # (the console's first frame does not).
    from engine.mailbox.ews import EwsConnector

    general = settings.exchange.general
    secret = service_secret(settings, paths) if secret is None else secret
    workers = settings.exchange.sync.workers
    if not settings.sandbox.enabled:
        connector = EwsConnector(general, secret, workers=workers)
        try:
            yield connector
        finally:
            connector.close()
        return
    from engine.sandbox.ews import EwsEmulator

    emulator = EwsEmulator(db_path=paths.sandbox_db, service_account=(general.sync_account, secret))
    url = emulator.start(port=settings.sandbox.port)
    try:
        _allow_loopback_oauth()
        token_url = emulator.token_url(general.oauth_tenant_id or "demo")
        connector = EwsConnector(
            general, secret, endpoint=url, workers=workers, token_url=token_url
        )
        try:
            yield connector
        finally:
            connector.close()
    finally:
        emulator.stop()
