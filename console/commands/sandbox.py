"""``msext sandbox``: the embedded EWS and Graph emulators (one set of mailboxes), the PSA
REST peer, the demo customer's Entra ID tenant (AD Sync) and the Teams channels' Workflows
webhooks in the foreground, for tests and tinkering."""

from __future__ import annotations

import argparse
import json
import secrets
import signal
import sys
import threading
from datetime import date
from typing import TYPE_CHECKING

from engine.demo import DEMO_CLIENT_ID, DEMO_TENANT_ID, create_demo_profile
from engine.errors import UserError
from engine.exchange.connect import service_secret
from engine.exchange.setup import PSA_SECRET_NAME
from engine.profile import Profile
from engine.settings.model import ExchangeGeneral
from engine.settings.secrets import resolve_secret, write_secret_file

if TYPE_CHECKING:
    from engine.sandbox.ews import EwsEmulator
    from engine.sandbox.graph import GraphEmulator
    from engine.sandbox.psa_rest import PsaRestEmulator


def register(commands: argparse._SubParsersAction) -> None:
    sandbox = commands.add_parser(
        "sandbox",
        help="run the demo's loopback EWS and Graph emulators and PSA REST API in the foreground",
        description="Serves the profile's emulated mailboxes (over EWS and Microsoft Graph)"
        " and its PSA's REST API on 127.0.0.1 until Ctrl-C. The accounts it prints are the"
        " peers' own demo accounts, not real secrets.",
    )
    sandbox.add_argument("--port", type=int, default=0, help="port to listen on (default: any)")
    sandbox.add_argument(
        "--json", action="store_true", help="print one JSON object as the first line"
    )
    sandbox.set_defaults(handler=run_sandbox)


def run_sandbox(args: argparse.Namespace, profile: Profile) -> int:
    from engine.adsync.entra_sandbox import serves_demo_tenant, start_demo_tenant
    from engine.adsync.ldaps_sandbox import (
        demo_domain_details,
        serves_demo_domain,
        start_demo_domain,
    )
    from engine.sandbox.ews import EwsEmulator
    from engine.teams.sandbox import start_sandbox_webhooks

    if not 0 <= args.port <= 65535:
        raise UserError(f"--port {args.port} is not a port number (0-65535)")
    if profile.name == "demo":
        create_demo_profile(profile.paths, today=date.today())
    settings = profile.settings
    if not settings.sandbox.enabled:
        raise UserError(
            f"profile {profile.name!r} does not use the emulator (sandbox.enabled is false)"
        )
    account = settings.exchange.general.sync_account
    password = service_secret(settings, profile.paths)
    emulator = EwsEmulator(db_path=profile.paths.sandbox_db, service_account=(account, password))
    try:
        url = emulator.start(port=args.port)
    except OSError as error:
        raise UserError(f"cannot listen on port {args.port}: {error.strerror}") from None
    psa_peer = _psa_peer(profile)
    mailboxes = emulator.mailboxes()
    graph = _graph_peer(emulator, settings.exchange.general, password)
    entra = start_demo_tenant(profile.paths) if serves_demo_tenant(settings) else None
    ldap = start_demo_domain(profile.paths) if serves_demo_domain(settings) else None
    workflows = start_sandbox_webhooks(profile.paths, settings)
    details = {
        "ews_url": url,
        "username": account,
        "password": password,
        "mailboxes": [address for address, granted in mailboxes if granted],
        "denied_mailboxes": [address for address, granted in mailboxes if not granted],
        "graph_url": graph.url,
        "graph_token_url": graph.token_url,
        "tenant_id": graph.state.app.tenant_id,
        "client_id": graph.state.app.client_id,
        "client_secret": password,
        "workflows_url": workflows.base_url,
        "workflows_webhooks": len(workflows.store.webhooks()),
    }
    if psa_peer is not None:
        details |= {
            "psa_rest_url": psa_peer.url,
            "psa_username": psa_peer.user.username,
            "psa_secret": psa_peer.user.secret,
            "psa_integration_code": psa_peer.user.integration_code,
        }
    if entra is not None:
        details |= {
            "entra_graph_url": entra.url,
            "entra_token_url": entra.token_url,
            "entra_tenant_id": entra.state.app.tenant_id,
            "entra_client_id": entra.state.app.client_id,
            "entra_client_secret": entra.state.app.client_secret,
            "entra_users": len(entra.tenant.users),
        }
    if ldap is not None:
        details |= demo_domain_details(ldap, profile.paths)
    # The emulator's demo account is printed on purpose: scripts log in with it.
    if args.json:
        print(json.dumps(details), flush=True)
    else:
        print(f"EWS emulator at {url}\nservice account: {account} / {password}", flush=True)
        print(
            f"Graph emulator at {graph.url} (token: {graph.token_url})\napp registration:"
            f" tenant {graph.state.app.tenant_id}, client {graph.state.app.client_id},"
            f" secret {password}",
            flush=True,
        )
        if psa_peer is not None:
            user = psa_peer.user
            print(
                f"PSA REST API at {psa_peer.url}\nAPI user: {user.username} / {user.secret}"
                f" (integration code {user.integration_code})",
                flush=True,
            )
        if entra is not None:
            app = entra.state.app
            print(
                f"Entra ID (AD Sync) at {entra.url} (token: {entra.token_url})\napp"
                f" registration: tenant {app.tenant_id}, client {app.client_id}, secret"
                f" {app.client_secret}; {len(entra.tenant.users)} directory users",
                flush=True,
            )
        if ldap is not None:
            print(
                f"Active Directory (AD Sync) at ldaps://{details['ldaps_address']}, certificate"
                f" for {ldap.host} by the CA in {details['ldaps_ca_file']}\nbind account:"
                f" {ldap.bind_dn} / {details['ldaps_password']}; base DN"
                f" {details['ldaps_base_dn']}, {ldap.domain.user_count} directory users",
                flush=True,
            )
        print(
            f"Teams Workflows webhooks at {workflows.base_url}"
            f" ({details['workflows_webhooks']} channels' webhooks)",
            flush=True,
        )
        print(f"mailboxes ({len(details['mailboxes'])} granted):", flush=True)
        for address in details["mailboxes"]:
            print(f"  {address}")
        for address in details["denied_mailboxes"]:
            print(f"  {address} (not granted to the service account or the app)")
        print("Ctrl-C stops it.", file=sys.stderr, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        graph.stop()
        emulator.stop()
        workflows.stop()
        if psa_peer is not None:
            psa_peer.stop()
        if entra is not None:
            entra.stop()
        if ldap is not None:
            ldap.stop()
    return 0


def _graph_peer(emulator: EwsEmulator, general: ExchangeGeneral, secret: str) -> GraphEmulator:
    """The Graph front over the same mailboxes; the synchronization account's mailbox is in
    the app's access policy (it sends the error notifications)."""
    from engine.sandbox.graph import GraphEmulator

    emulator.grant(general.sync_account)
    peer = GraphEmulator(
        emulator.store,
        tenant_id=general.oauth_tenant_id or DEMO_TENANT_ID,
        client_id=general.oauth_client_id or DEMO_CLIENT_ID,
        client_secret=secret,
    )
    peer.start()
    return peer


def _psa_peer(profile: Profile) -> PsaRestEmulator | None:
    """The PSA REST peer over the profile's embedded PSA, with the demo API user's secret
    (made once, kept in the secrets directory)."""
    from engine.sandbox.psa_rest import PsaRestEmulator

    if not profile.paths.psa_db.exists():
        return None
    try:
        secret = resolve_secret(f"file:{PSA_SECRET_NAME}", profile.paths)
    except UserError:
        write_secret_file(profile.paths, PSA_SECRET_NAME, secrets.token_urlsafe(18))
        secret = resolve_secret(f"file:{PSA_SECRET_NAME}", profile.paths)
    peer = PsaRestEmulator(profile.paths.psa_db, secret=secret)
    peer.start()
    return peer
