"""A loopback EWS emulator: answers the SOAP exchangelib sends, with the schema's shapes.

In the spirit of moto for AWS: the real client (exchangelib) talks to it over a socket.
It keeps mailboxes in SQLite, checks credentials and impersonation grants, keeps real
sync states, and can be told to misbehave (busy, resets, 500s, slow, expired sync state).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.sandbox.ews.faults import FaultKind, Faults
from engine.sandbox.ews.items import extended_properties
from engine.sandbox.ews.notifications import Notifications, StreamingLimits
from engine.sandbox.ews.server import EWS_PATH, EmulatorHttpServer, ServerState, Stats
from engine.sandbox.ews.store import Mailbox, Store
from engine.sandbox.ews.xml import local, t
from engine.sandbox.http import LoopbackPeer

__all__ = ["EwsEmulator", "FaultKind", "MailboxSpec", "StreamingLimits"]


@dataclass(frozen=True)
class MailboxSpec:
    address: str
    name: str
    password: str = "password"
    granted: bool = True
    """Whether the service account may impersonate this mailbox."""


class EwsEmulator(LoopbackPeer):
    """The emulator: a store, fault switches, counters, and a server you start and stop."""

    def __init__(
        self,
        db_path: Path | str = ":memory:",
        service_account: tuple[str, str] = ("svc-msext@contoso.example", "password"),
        mailboxes: list[MailboxSpec] | None = None,
        max_sync_changes: int | None = None,
        max_find_items: int | None = None,
        fault_seed: int = 0,
        streaming: StreamingLimits | None = None,
    ) -> None:
        self.store = Store(db_path)
        self.service_account = (service_account[0].lower(), service_account[1])
        self.faults = Faults(fault_seed)
        self.stats = Stats()
        self.notifications = Notifications(self.store, streaming or StreamingLimits())
        self._state = ServerState(
            self.store,
            self.service_account,
            self.faults,
            self.stats,
            self.notifications,
            max_sync_changes,
            max_find_items,
        )
        self.store.put_mailbox(
            Mailbox(
                self.service_account[0],
                "msext synchronization account",
                self.service_account[1],
                granted=False,
            ),
            replace=True,
        )
        for spec in mailboxes or ():
            self.add_mailbox(spec)
        self.url = ""

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        server = EmulatorHttpServer((host, port), self._state)
        self.serve(server, "ews-emulator")
        self.url = f"http://{host}:{server.server_address[1]}{EWS_PATH}"
        return self.url

    def release(self) -> None:
        self.notifications.close()
        self.store.close()

    def token_url(self, tenant_id: str) -> str:
        return self.url.replace(EWS_PATH, f"/{tenant_id}/oauth2/v2.0/token")

    # -- mailboxes -------------------------------------------------------------------------

    def add_mailbox(self, spec: MailboxSpec) -> None:
        self.store.put_mailbox(
            Mailbox(spec.address.lower(), spec.name, spec.password, spec.granted), replace=False
        )
        self.store.set_granted(spec.address, spec.granted)

    def grant(self, address: str) -> None:
        self.store.set_granted(address, True)

    def revoke(self, address: str) -> None:
        self.store.set_granted(address, False)

    def mailboxes(self) -> list[tuple[str, bool]]:
        return [
            (mailbox.address, mailbox.granted)
            for mailbox in self.store.mailboxes()
            if mailbox.address != self.service_account[0]
        ]

    def password(self, address: str) -> str:
        mailbox = self.store.mailbox(address)
        if mailbox is None:
            raise KeyError(address)
        return mailbox.password

    # -- inspection, for tests -------------------------------------------------------------

    def items(self, address: str, folder: str = "calendar") -> list[dict[str, Any]]:
        found = []
        for stored in self.store.items(address.lower(), folder):
            element = stored.element
            data: dict[str, Any] = {
                "item_id": stored.item_id,
                "change_key": stored.change_key,
                "item_class": local(element.tag),
                "extended_properties": extended_properties(element),
            }
            for name in _INSPECTED:
                value = element.findtext(t(name))
                if value is not None:
                    data[_snake(name)] = value
            body = element.find(t("Body"))
            data["body"] = body.text if body is not None else None
            data["recurring"] = element.find(t("Recurrence")) is not None
            data["categories"] = [
                c.text for c in element.iterfind(f"{t('Categories')}/{t('String')}")
            ]
            found.append(data)
        return found

    def sent_messages(self) -> list[dict[str, Any]]:
        messages = []
        for mailbox, at, element in self.store.sent():
            recipients = [
                address.text
                for address in element.iterfind(f".//{t('ToRecipients')}//{t('EmailAddress')}")
            ]
            messages.append(
                {
                    "from": mailbox,
                    "at": at,
                    "to": recipients,
                    "subject": element.findtext(t("Subject")),
                    "body": element.findtext(t("Body")),
                }
            )
        return messages


_INSPECTED = (
    "Subject",
    "Start",
    "End",
    "Sensitivity",
    "Location",
    "IsAllDayEvent",
    "GivenName",
    "Surname",
    "CompanyName",
    "UID",
    "StartDate",
    "DueDate",
)


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
