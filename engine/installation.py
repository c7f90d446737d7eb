"""Which msext installation a profile is, and which mailbox items are its own.

Two installations (two profiles, a test set-up beside production) may sync the same
mailboxes. Each stamps its items with its own id (``engine.exchange.mailbox.base.stamp_value``), so
neither adopts, updates, deletes nor imports the other's items: they are left alone and
reported. The id is random, made once, and kept beside the settings, not in the state
database: a lost state database must not make an installation a stranger to its own items.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from engine.errors import UserError
from engine.exchange.mailbox.base import MailboxItem
from engine.paths import ProfilePaths

_VALID_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def installation_id(paths: ProfilePaths) -> str:
    """The profile's installation id, made on first use (two processes agree on one)."""
    path = paths.installation_file
    if not path.exists():
        paths.config_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        draft.write_text(uuid.uuid4().hex + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    value = path.read_text().strip()
    if not _VALID_ID.match(value):
        raise UserError(
            f"{path} does not hold an installation id (8-64 letters, digits, '-' or '_');"
            " restore it from a backup: it names this installation's items in the mailboxes"
        )
    return value


@dataclass(frozen=True)
class Ownership:
    """One mailbox's mirror sorted out for one installation."""

    own: dict[str, MailboxItem]
    """What reconcile may see: a person's items and this installation's."""
    foreign: tuple[MailboxItem, ...]
    """Stamped by another installation: never adopted, updated, deleted nor imported."""
    legacy: tuple[MailboxItem, ...]
    """This installation's items whose stamp does not name it yet (to be rewritten)."""

    def report(self) -> str:
        """One line naming the other installations and how many of their items are here."""
        owners: dict[str, int] = {}
        for item in self.foreign:
            owner = item.owner or "unnamed (stamped before installations were named)"
            owners[owner] = owners.get(owner, 0) + 1
        named = ", ".join(f"{owner}: {count}" for owner, count in sorted(owners.items()))
        return (
            f"{len(self.foreign)} item(s) stamped by another msext installation"
            f" ({named}) left alone"
        )


def sort_out(
    mirror: Mapping[str, MailboxItem], linked_item_ids: Collection[str], installation: str
) -> Ownership:
    """Whose each stamped item is. A stamp without an installation id (written before ids
    existed) is this installation's when its state knows the item, or when no other
    installation has stamped anything in the mailbox; otherwise it may be the other's, and
    is left alone: adopting it could delete or duplicate another installation's item."""
    others = any(item.owner not in (None, installation) for item in mirror.values() if item.stamp)
    own: dict[str, MailboxItem] = {}
    foreign: list[MailboxItem] = []
    legacy: list[MailboxItem] = []
    for item_id, item in mirror.items():
        if item.stamp is None or item.owner == installation:
            own[item_id] = item
        elif item.owner is None and (item_id in linked_item_ids or not others):
            own[item_id] = item
            legacy.append(item)
        else:
            foreign.append(item)
    return Ownership(own, tuple(foreign), tuple(legacy))
