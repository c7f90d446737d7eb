"""Opening a profile's Exchange connection (EWS or Microsoft Graph), starting the embedded
emulators when the profile is a sandbox."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING

from engine.errors import UserError
from engine.paths import ProfilePaths
from engine.settings.model import ExchangeGeneral, MailboxApi, Settings
from engine.settings.secrets import resolve_secret

if TYPE_CHECKING:
    from engine.exchange.mailbox.ews import EwsConnector
    from engine.exchange.mailbox.graph import GraphConnector


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
) -> Iterator[EwsConnector | GraphConnector]:
    """The Exchange connection of a profile; with ``sandbox.enabled`` it is the local
    emulator (EWS, and Graph over the same mailboxes).

    ``secret`` is the synchronization account's (or app registration's) secret when it is
    not saved yet (the setup wizard tests what is typed before anything is written).
    """
    general = settings.exchange.general
    secret = service_secret(settings, paths) if secret is None else secret
    workers = settings.exchange.sync.workers
    with ExitStack() as stack:
        endpoints = (
            _start_sandbox(stack, settings, paths, secret) if settings.sandbox.enabled else {}
        )
        connector = _connector(general, secret, workers, endpoints)
        stack.callback(connector.close)
        yield connector


def _connector(
    general: ExchangeGeneral, secret: str, workers: int, endpoints: dict[str, str]
) -> EwsConnector | GraphConnector:
    # exchangelib takes a sixth of a second to import: only code that connects pays for it
    # (the console's first frame does not).
    if general.mailbox_api is MailboxApi.GRAPH:
        from engine.exchange.mailbox.graph import GraphConnector

        return GraphConnector(general, secret, workers=workers, **endpoints)
    from engine.exchange.mailbox.ews import EwsConnector

    return EwsConnector(general, secret, workers=workers, **endpoints)


def _start_sandbox(
    stack: ExitStack, settings: Settings, paths: ProfilePaths, secret: str
) -> dict[str, str]:
    """Start the emulator the profile's mailbox API talks to; the endpoints to use."""
    from engine.sandbox.ews import EwsEmulator

    general = settings.exchange.general
    emulator = EwsEmulator(db_path=paths.sandbox_db, service_account=(general.sync_account, secret))
    url = emulator.start(port=settings.sandbox.port)
    stack.callback(emulator.stop)
    if general.mailbox_api is MailboxApi.GRAPH:
        from engine.sandbox.graph import GraphEmulator

        # The notification sender's mailbox is in the application access policy's scope.
        emulator.grant(general.sync_account)
        # Change notifications go to the receiver's own (self-signed) certificate, which
        # stands in for the public CA Microsoft trusts.
        peer = GraphEmulator(
            emulator.store,
            tenant_id=general.oauth_tenant_id or "",
            client_id=general.oauth_client_id or "",
            client_secret=secret,
            notification_ca=general.notification_certificate,
        )
        graph_url = peer.start()
        stack.callback(peer.stop)
        return {"graph_url": graph_url, "token_url": peer.token_url}
    _allow_loopback_oauth()
    return {"endpoint": url, "token_url": emulator.token_url(general.oauth_tenant_id or "demo")}
