"""Two msext installations on the same mailboxes, and stamps written before installations
were named (issue 18, item 4)."""

from __future__ import annotations

from exchangelib.protocol import close_connections

from engine.exchange.mailbox.base import STAMP_PROPERTY_NAME, FolderKind, parse_stamp
from engine.exchange.mailbox.ews import STAMP
from tests.e2e.harness import Harness

Stamps = dict[tuple[str, str], tuple[str, str]]
"""(mailbox, item id) -> (the stamp property's value, change key)."""


def stamps(harness: Harness) -> Stamps:
    """Every stamped item of every mailbox, straight from the emulator's store."""
    found: Stamps = {}
    for address, _ in harness.emulator.mailboxes():
        for folder in FolderKind:
            for item in harness.emulator.items(address, folder.value):
                value = next(
                    (
                        v
                        for (_, name), v in item["extended_properties"].items()
                        if name == STAMP_PROPERTY_NAME
                    ),
                    None,
                )
                if value:
                    found[address, item["item_id"]] = (value, item["change_key"])
    return found


def owned_by(found: Stamps, installation: str) -> Stamps:
    return {item_id: v for item_id, v in found.items() if parse_stamp(v[0])[1] == installation}


def created_in_mailboxes(result: object) -> int:
    return sum(user.mailbox_counts["created"] for user in result.users)  # type: ignore[attr-defined]


def foreign(result: object) -> int:
    return sum(user.foreign for user in result.users)  # type: ignore[attr-defined]


def test_two_installations_leave_each_others_items_alone(either_api: Harness) -> None:
    """Invariants 1 and 2: a second installation (its own PSA, seeded a day later so that
    the same record keys hold other times) syncs the mailboxes the first one serves. Neither
    adopts, updates, deletes nor imports the other's items; each run reports them."""
    first = either_api
    first.settled()
    first_items = owned_by(stamps(first), first.installation)
    assert first_items
    second = first.second_installation("second", days_later=1)
    try:
        result = second.sync()
        assert result.totals["deleted"] == 0 and result.totals["updated"] == 0
        assert foreign(result) == len(first_items)
        after = stamps(first)
        assert owned_by(after, first.installation) == first_items
        second_items = owned_by(after, second.installation)
        assert len(second_items) == created_in_mailboxes(result) > 0
        keys = [(at, parse_stamp(value)[0]) for (at, _), (value, _) in second_items.items()]
        assert len(keys) == len(set(keys)), "one item per record and installation"
        foreign_ids = {item_id for _, item_id in first_items}
        assert not [row for row in second.imported() if row["origin_key"] in foreign_ids]

        again = first.sync()
        assert [again.totals[what] for what in ("created", "updated", "deleted")] == [0, 0, 0]
        assert again.totals["errors"] == result.totals["errors"], "only the denied mailbox's"
        assert foreign(again) == len(second_items)
        final = stamps(first)
        assert owned_by(final, first.installation) == first_items
        assert owned_by(final, second.installation) == second_items
        assert not [
            row for row in first.imported() if row["origin_key"] in {i for _, i in second_items}
        ]
        assert foreign(second.sync()) == len(first_items)
    finally:
        close_connections()


def _legacy_stamps(harness: Harness) -> int:
    """Rewrite every stamp as msext wrote it before installations were named (the record
    key alone), through EWS as the earlier version's items look; how many were rewritten."""
    rewritten = 0
    for address, granted in harness.emulator.mailboxes():
        if not granted:
            continue
        account = harness.outlook(address)
        for folder in (account.calendar, account.contacts, account.tasks):
            for item in folder.all().only(STAMP):
                key, owner = parse_stamp(getattr(item, STAMP, None))
                if key and owner:
                    setattr(item, STAMP, key)
                    item.save(update_fields=[STAMP])
                    rewritten += 1
    return rewritten


def test_legacy_stamps_migrate_without_a_copy_or_a_loss(either_api: Harness) -> None:
    """Invariant 1: a mailbox stamped by the earlier version (no installation id) is this
    installation's: the next run creates and deletes nothing and names this installation
    in every stamp; a lost state database then adopts them all again."""
    harness = either_api
    harness.settled()
    before = stamps(harness)
    assert _legacy_stamps(harness) == len(before)
    result = harness.sync()
    assert (result.totals["created"], result.totals["deleted"], foreign(result)) == (0, 0, 0)
    after = stamps(harness)
    assert set(after) == set(before)
    assert owned_by(after, harness.installation).keys() == after.keys()

    _legacy_stamps(harness)
    for suffix in ("", "-wal", "-shm"):
        harness.paths.state_db.with_name(harness.paths.state_db.name + suffix).unlink(
            missing_ok=True
        )
    result = harness.sync()
    assert (result.totals["created"], result.totals["deleted"], foreign(result)) == (0, 0, 0)
    assert owned_by(stamps(harness), harness.installation).keys() == before.keys()
