"""A small demo profile whose Exchange is an emulator running in the test process.

The engine talks to it through exchangelib over a socket, in-process or from a ``msext``
subprocess (which the crash tests kill). People's own edits in Outlook are made with
exchangelib as well, so nothing short-circuits the real client.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from exchangelib import (
    BASIC,
    IMPERSONATION,
    Account,
    CalendarItem,
    Configuration,
    Credentials,
    EWSDateTime,
    EWSTimeZone,
    Version,
)
from exchangelib import UTC as EWS_UTC
from exchangelib.version import EXCHANGE_2016

from engine.demo import DEMO_CLIENT_ID, DEMO_TENANT_ID, SERVICE_ACCOUNT, create_demo_profile
from engine.exchange.mailbox.base import parse_stamp, stamp_value
from engine.exchange.mailbox.ews import STAMP
from engine.exchange.runner import RunFinished, RunResult
from engine.exchange.sync import select_users, sync
from engine.installation import installation_id
from engine.paths import ProfilePaths
from engine.profile import Profile
from engine.psa.demo import DemoSize
from engine.psa.embedded import EmbeddedPsa
from engine.psa.rest import split_origin
from engine.sandbox.ews import EwsEmulator, StreamingLimits
from engine.sandbox.graph import GraphEmulator
from engine.sandbox.psa_rest import PsaRestEmulator
from engine.settings.secrets import resolve_secret, write_secret_file
from tests.sandbox.peer import save_appointment

SMALL = DemoSize(
    resources=8,
    companies=12,
    contacts_per_company=(2, 4),
    opportunities=10,
    appointments_per_resource=(3, 5),
    todos_per_resource=(2, 3),
    service_calls=8,
)
AVA = "ava.fischer@contoso.example"
BEN = "ben.brooks@contoso.example"
CHLOE = "chloe.reyes@contoso.example"


def serve_rest_psa(paths: ProfilePaths, api_secret: str) -> PsaRestEmulator:
    """The REST peer over the profile's embedded PSA, and the profile's settings pointed at
    it (the engine then reads and writes the PSA through its REST API only)."""
    peer = PsaRestEmulator(paths.psa_db, secret=api_secret)
    url = peer.start()
    ref = write_secret_file(paths, "psa-rest", api_secret)
    store = Profile(paths).store
    for key, value in (
        ("psa.rest_url", url),
        ("psa.rest_username", peer.user.username),
        ("psa.rest_integration_code", peer.user.integration_code),
        ("psa.rest_secret", ref),
        ("psa.kind", "rest"),
    ):
        store.set_value(key, value)
    return peer


def stamp_key(item: CalendarItem) -> str | None:
    """The PSA record key an exchangelib item is stamped with, whoever stamped it."""
    return parse_stamp(getattr(item, STAMP, None))[0]


@dataclass
class Harness:
    paths: ProfilePaths
    emulator: EwsEmulator
    secret: str
    psa_peer: PsaRestEmulator | None = None
    """The PSA REST peer, when the engine reads the PSA through its REST API."""
    graph: GraphEmulator | None = None
    """The Graph peer over the same mailboxes, when the engine reaches them through Graph."""

    @classmethod
    def create(
        cls,
        name: str = "e2e",
        size: DemoSize = SMALL,
        psa: str = "embedded",
        api: str = "ews",
        streaming: StreamingLimits | None = None,
    ) -> Harness:
        """``streaming``: the emulator's streaming notification limits and times (tests of
        the mailbox watch shorten them)."""
        paths = ProfilePaths.for_profile(name)
        create_demo_profile(paths, today=date.today(), size=size)
        secret = resolve_secret("file:ews-service-account", paths)
        emulator = EwsEmulator(
            db_path=paths.sandbox_db,
            service_account=(SERVICE_ACCOUNT, secret),
            streaming=streaming,
        )
        url = emulator.start()
        harness = cls(paths, emulator, secret)
        harness.set("exchange.general.ews_url", url)
        harness.set("sandbox.enabled", "false")
        if psa == "rest":
            harness.use_rest_psa()
        if api == "graph":
            harness.use_graph()
        return harness

    def second_installation(self, name: str, days_later: int = 0) -> Harness:
        """Another msext installation (its own profile and PSA, the demo data seeded
        ``days_later``) syncing the same mailboxes over the same API; close this one only."""
        paths = ProfilePaths.for_profile(name)
        create_demo_profile(paths, today=date.today() + timedelta(days=days_later), size=SMALL)
        write_secret_file(paths, "ews-service-account", self.secret)
        other = Harness(paths, self.emulator, self.secret, graph=self.graph)
        other.set("exchange.general.ews_url", self.emulator.url)
        other.set("sandbox.enabled", "false")
        if self.graph is not None:
            other.point_at_graph()
        return other

    def use_graph(self, certificate: str | None = None) -> None:
        """Reach the mailboxes through the Graph peer (people still edit them in Outlook,
        over EWS: one Exchange, two protocols); ``certificate`` is the one uploaded to the
        app registration, for a profile that signs in with it."""
        self.graph = GraphEmulator(
            self.emulator.store,
            tenant_id=DEMO_TENANT_ID,
            client_id=DEMO_CLIENT_ID,
            client_secret=self.secret,
            certificate=certificate,
        )
        self.graph.start()
        self.emulator.grant(SERVICE_ACCOUNT)
        self.point_at_graph()

    def point_at_graph(self) -> None:
        assert self.graph is not None
        for key, value in (
            ("exchange.general.server_type", "office365"),
            ("exchange.general.oauth_tenant_id", DEMO_TENANT_ID),
            ("exchange.general.oauth_client_id", DEMO_CLIENT_ID),
            ("exchange.general.oauth_token_url", self.graph.token_url),
            ("exchange.general.graph_url", self.graph.url),
            ("exchange.general.mailbox_api", "graph"),
        ):
            self.set(key, value)

    def use_rest_psa(self) -> None:
        """Serve the profile's PSA through the REST peer and point the settings at it."""
        self.psa_peer = serve_rest_psa(self.paths, "api-" + self.secret)

    def imported(self) -> list[dict]:
        """The PSA's appointments that came from a mailbox, with their origin keys."""
        psa = self.psa()
        try:
            rows = [dict(row) for row in psa._rows("SELECT * FROM appointments ORDER BY id")]
        finally:
            psa.close()
        if self.psa_peer is None:
            return [row for row in rows if row["origin_key"]]
        found = []
        for row in rows:
            description, origin = split_origin(row["description"])
            if origin is not None:
                found.append(row | {"description": description, "origin_key": origin})
        return found

    @property
    def installation(self) -> str:
        return installation_id(self.paths)

    def set(self, key: str, value: str) -> None:
        Profile(self.paths).store.set_value(key, value)

    def sync(self, *users: str, **options: object) -> RunResult:
        profile = Profile(self.paths)
        try:
            chosen = select_users(profile, users)
            for event in sync(profile, chosen, **options):  # type: ignore[arg-type]
                if isinstance(event, RunFinished):
                    return event.result
        finally:
            profile.close()
        raise AssertionError("the run did not finish")

    def settled(self) -> RunResult:
        """Sync until a run changes nothing (at most three runs)."""
        for _ in range(3):
            result = self.sync()
            totals = result.totals
            if not (totals["created"] or totals["updated"] or totals["deleted"]):
                return result
        raise AssertionError(f"no convergence: {result.as_dict()}")

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "console.cli", "--profile", self.paths.name, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=dict(os.environ),
        )

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "console.cli", "--profile", self.paths.name, *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
            env=dict(os.environ),
        )

    def psa(self) -> EmbeddedPsa:
        return EmbeddedPsa(self.paths.psa_db)

    def outlook(self, address: str, zone: EWSTimeZone = EWS_UTC) -> Account:
        """The person's mailbox, as their Outlook in ``zone`` would change it (no PSA
        stamp)."""
        config = Configuration(
            service_endpoint=self.emulator.url,
            credentials=Credentials(SERVICE_ACCOUNT, self.secret),
            auth_type=BASIC,
            version=Version(build=EXCHANGE_2016),
        )
        return Account(
            address,
            config=config,
            autodiscover=False,
            access_type=IMPERSONATION,
            default_timezone=zone,
        )

    def stamped(self, address: str, folder: str = "calendar") -> dict[str, list[dict]]:
        """PSA key -> the items stamped with it (by any installation), straight from the
        emulator's store."""
        found: dict[str, list[dict]] = {}
        for item in self.emulator.items(address, folder):
            stamp = next(
                (
                    value
                    for (_, name), value in item["extended_properties"].items()
                    if name == "msextPsaRecord"
                ),
                None,
            )
            key, _ = parse_stamp(stamp)
            if key:
                found.setdefault(key, []).append(item)
        return found

    def person_appointment(
        self, address: str, subject: str, day: int, hour: int, **fields: object
    ) -> CalendarItem:
        start = EWSDateTime.from_datetime(
            datetime.combine(date.today() + timedelta(days=day), time(hour), UTC)
        ).astimezone(EWS_UTC)
        return save_appointment(self.outlook(address), subject, start, **fields)

    def copy_made_into_another_meeting(self, address: str) -> tuple[str, dict, CalendarItem]:
        """A person's Outlook copy of the first PSA appointment in ``address``, made into
        another meeting (the copy keeps the stamp): its record key, the engine's item and
        the copy."""
        key, (original,) = sorted(
            (key, items)
            for key, items in self.stamped(address).items()
            if key.startswith("appointment:")
        )[0]
        stamp = stamp_value(key, self.installation)
        copy = self.person_appointment(address, "Quarterly review", 5, 15, **{STAMP: stamp})
        return key, original, copy

    def close(self) -> None:
        if self.graph is not None:
            self.graph.stop()
        self.emulator.stop()
        if self.psa_peer is not None:
            self.psa_peer.stop()
