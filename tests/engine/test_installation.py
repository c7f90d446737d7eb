"""Installation ids and whose stamped items are whose (issue 18, item 4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import UserError
from engine.exchange.mailbox.base import FolderKind, MailboxItem, parse_stamp, stamp_value
from engine.installation import installation_id, sort_out
from engine.paths import ProfilePaths

MINE, THEIRS = "a1b2c3d4e5f6", "f6e5d4c3b2a1"


def item(item_id: str, stamp: str | None) -> MailboxItem:
    key, owner = parse_stamp(stamp)
    return MailboxItem(item_id, "ck", FolderKind.CALENDAR, key, True, owner=owner)


def test_the_id_is_made_once_and_kept_beside_the_settings(isolated_dirs: Path) -> None:
    """Invariant 1: the id lives with the config, not the state directory, so a lost state
    database keeps it; each profile has its own."""
    paths = ProfilePaths.for_profile("prod")
    made = installation_id(paths)
    assert paths.installation_file.read_text().strip() == made
    assert not paths.installation_file.is_relative_to(paths.state_dir)
    assert installation_id(paths) == made
    assert installation_id(ProfilePaths.for_profile("test")) != made


def test_a_damaged_id_is_refused_with_what_to_do(isolated_dirs: Path) -> None:
    paths = ProfilePaths.for_profile("prod")
    installation_id(paths)
    paths.installation_file.write_text("not@an id\n")
    with pytest.raises(UserError, match="restore it from a backup"):
        installation_id(paths)


def test_stamps_round_trip_and_legacy_stamps_have_no_owner() -> None:
    assert parse_stamp(stamp_value("appointment:7", MINE)) == ("appointment:7", MINE)
    assert parse_stamp("appointment:7") == ("appointment:7", None)
    assert parse_stamp("") == parse_stamp(None) == (None, None)


def test_another_installations_items_are_foreign() -> None:
    """Invariant 2: only a person's items and this installation's reach reconcile."""
    mirror = {
        "person": item("person", None),
        "mine": item("mine", stamp_value("appointment:1", MINE)),
        "theirs": item("theirs", stamp_value("appointment:1", THEIRS)),
    }
    sorted_out = sort_out(mirror, set(), MINE)
    assert set(sorted_out.own) == {"person", "mine"}
    assert [i.item_id for i in sorted_out.foreign] == ["theirs"]
    assert sorted_out.legacy == ()
    assert THEIRS in sorted_out.report() and sorted_out.report().startswith("1 item(s)")


def test_legacy_stamps_are_mine_when_known_or_alone() -> None:
    """Invariant 1: a stamp from before installation ids is adopted when the state knows
    the item, or when no other installation stamped anything in the mailbox; beside
    another installation's items an unknown one may be theirs, and is left alone."""
    alone = {"old": item("old", "appointment:2")}
    assert [i.item_id for i in sort_out(alone, set(), MINE).legacy] == ["old"]
    crowded = alone | {"theirs": item("theirs", stamp_value("appointment:3", THEIRS))}
    unknown = sort_out(crowded, set(), MINE)
    assert {i.item_id for i in unknown.foreign} == {"old", "theirs"}
    known = sort_out(crowded, {"old"}, MINE)
    assert set(known.own) == {"old"} and [i.item_id for i in known.legacy] == ["old"]
