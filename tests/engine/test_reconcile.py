"""Each rule the reconcile step applies, one scenario at a time."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from engine.exchange.mailbox.base import CalendarContent, FolderKind
from engine.exchange.projection import PRIVATE_TITLE, project
from engine.exchange.reconcile import Verb
from engine.exchange.rules import DIRECTION_RULES, Change, Origin, Outcome, Side, direction
from engine.psa.model import RecordKind
from engine.settings.model import ImportMode, TodoFolder
from tests.engine.world import (
    T0,
    WEB,
    World,
    appointment,
    calendar_item,
    contact,
    service_call,
    todo,
)


def verbs(plan) -> list[Verb]:
    return [action.verb for action in plan.actions]


def settled(world: World) -> World:
    world.step()
    assert world.plan().writes == 0, world.plan().actions
    return world


def test_psa_calendar_items_become_mailbox_appointments() -> None:
    """R04, R15: appointments, to-dos and service calls each become one mailbox appointment;
    a second run changes nothing."""
    world = World()
    for record in (appointment(1), todo(2), service_call(3)):
        world.psa_put(record)
    plan = world.step()
    assert verbs(plan) == [Verb.CREATE] * 3
    assert {a.rule for a in plan.actions} == {"R04", "R09"}
    assert sorted(world.stamped()) == ["appointment:1", "service_call:3", "todo:2"]
    assert world.plan().writes == 0


def test_what_has_no_field_goes_into_the_body_with_a_link() -> None:
    """R15: the organization, tickets and tasks of a service call, the to-do's customer, go
    into the body with a link to the record; the service call carries its location."""
    call = project(service_call(3), WEB, TodoFolder.CALENDAR).content
    assert isinstance(call, CalendarContent)
    assert call.location == "1 Main Street"
    assert "Organization: Alpine Dental" in call.body
    assert "T1.1 Printer offline" in call.body and "Upgrade" in call.body
    assert call.body.endswith("Open in the PSA: https://psa.example.com/service-calls/3")
    task = project(todo(2), WEB, TodoFolder.CALENDAR).content
    assert "Customer: Alpine Dental" in task.body and "Contact: Nora Weber" in task.body
    assert task.subject == "Phone call: Call back."
    tasks_folder = project(todo(2), WEB, TodoFolder.TASKS)
    assert tasks_folder.folder is FolderKind.TASKS


def test_psa_changes_and_deletions_flow_to_the_mailbox() -> None:
    """R04: a change in the PSA updates the item; a deletion deletes it."""
    world = settled(World(psa={"appointment:1": appointment(1), "todo:2": todo(2)}))
    world.psa_put(appointment(1, title="Review moved"))
    assert verbs(world.step()) == [Verb.UPDATE]
    del world.psa["appointment:1"]
    assert verbs(world.step()) == [Verb.DELETE]
    assert world.stamped().keys() == {"todo:2"}


def test_mailbox_time_change_of_psa_appointment_flows_back() -> None:
    """R16: after the first sync, moving a PSA appointment in the mailbox moves it in the PSA."""
    world = settled(World(psa={"appointment:1": appointment(1)}))
    item_id = world.links["appointment:1"].item_id
    new_start = T0 + timedelta(days=1)
    world.person_edits(item_id, start=new_start, end=new_start + timedelta(hours=1))
    plan = world.step()
    assert verbs(plan) == [Verb.PSA_MOVE] and plan.actions[0].rule == "R16"
    assert world.psa["appointment:1"].start == new_start
    assert world.plan().writes == 0


def test_mailbox_time_change_of_todo_flows_back() -> None:
    """R16: the same for to-dos."""
    world = settled(World(psa={"todo:2": todo(2)}))
    item_id = world.links["todo:2"].item_id
    new_start = T0 + timedelta(hours=5)
    world.person_edits(item_id, start=new_start, end=new_start + timedelta(minutes=30))
    assert verbs(world.step()) == [Verb.PSA_MOVE]
    assert world.psa["todo:2"].start == new_start


def test_mailbox_subject_change_does_not_flow_back() -> None:
    """R17: a subject change made in the mailbox is overwritten from the PSA."""
    world = settled(World(psa={"appointment:1": appointment(1)}))
    item_id = world.links["appointment:1"].item_id
    world.person_edits(item_id, subject="My own title")
    plan = world.step()
    assert verbs(plan) == [Verb.UPDATE] and plan.actions[0].rule == "R17"
    assert world.psa["appointment:1"].title == "Review"
    assert world.mailbox[item_id].subject == "Review"


def test_mailbox_deletion_of_psa_item_does_not_flow_back() -> None:
    """R17: an item the PSA created and a person deleted is recreated; the PSA keeps it."""
    world = settled(World(psa={"appointment:1": appointment(1)}))
    world.person_deletes(world.links["appointment:1"].item_id)
    plan = world.step()
    assert verbs(plan) == [Verb.CREATE] and plan.actions[0].rule == "R17"
    assert "appointment:1" in world.psa and len(world.stamped()["appointment:1"]) == 1


def test_nothing_changed_on_a_service_call_flows_back() -> None:
    """R17: a service call moved in the mailbox is put back; the PSA is not touched."""
    world = settled(World(psa={"service_call:3": service_call(3)}))
    item_id = world.links["service_call:3"].item_id
    world.person_edits(item_id, start=T0 + timedelta(days=2), end=T0 + timedelta(days=2, hours=2))
    plan = world.step()
    assert verbs(plan) == [Verb.UPDATE] and plan.actions[0].rule == "R17"
    assert world.psa["service_call:3"].start == T0
    assert world.mailbox[item_id].start == T0


def test_contacts_only_from_the_psa() -> None:
    """R07, R08: PSA contacts go to the mailbox; a person's contact never reaches the PSA, and a
    contact edited in the mailbox is overwritten from the PSA."""
    world = World(psa={"contact:9": contact(9)})
    assert verbs(world.step()) == [Verb.CREATE]
    world.mailbox["person-contact"] = replace(
        next(iter(world.mailbox.values())), item_id="person-contact", stamp=None
    )
    assert world.plan().writes == 0
    item_id = world.links["contact:9"].item_id
    world.mailbox[item_id] = replace(world.mailbox[item_id], change_key="x", digest="edited")
    plan = world.step()
    assert verbs(plan) == [Verb.UPDATE] and plan.actions[0].rule == "R07"
    assert world.imported == {}


def test_mailbox_appointments_reach_the_psa_with_full_details() -> None:
    """R04, R06: a person's appointment is imported with subject, location and body."""
    world = World()
    item_id = world.person_creates("Dentist", 3)
    world.mailbox[item_id] = replace(world.mailbox[item_id], location="Harbor Road")
    plan = world.step()
    assert verbs(plan) == [Verb.IMPORT] and plan.actions[0].rule == "R04"
    value = world.imported_for(item_id)
    assert value.title == "Dentist"
    assert value.description == "Location: Harbor Road\n\nNotes."
    assert world.plan().writes == 0


def test_mailbox_appointments_without_details() -> None:
    """R06: without details, only the title, date and time arrive."""
    world = World(mode=ImportMode.WITHOUT_DETAILS)
    item_id = world.person_creates("Dentist", 3)
    plan = world.step()
    assert plan.actions[0].rule == "R04,R06"
    value = world.imported_for(item_id)
    assert (value.title, value.description) == ("Dentist", "")


def test_private_appointments_arrive_only_as_appointment_with_date_and_time() -> None:
    """R05: a private appointment reaches the PSA titled "Appointment" with start and end only,
    whatever the details option."""
    for mode in (ImportMode.FULL, ImportMode.WITHOUT_DETAILS):
        world = World(mode=mode)
        item_id = world.person_creates("Therapy", 4, private=True)
        plan = world.step()
        assert plan.actions[0].rule.startswith("R04,R05")
        value = world.imported_for(item_id)
        assert (value.title, value.description) == (PRIVATE_TITLE, "")
        assert value.start == T0 + timedelta(hours=4)


def test_series_occurrences_arrive_as_single_appointments() -> None:
    """R10: each occurrence of a series becomes its own PSA appointment; the series master
    itself is not imported (no series link)."""
    world = World()
    master = world.person_creates("Standup", 1)
    world.mailbox[master] = replace(world.mailbox[master], is_master=True)
    for day in range(3):
        start = T0 + timedelta(days=day, hours=1)
        world.mailbox[f"occ-{day}"] = replace(
            world.mailbox[master],
            item_id=f"occ-{day}",
            is_master=False,
            master_id=master,
            start=start,
            end=start + timedelta(minutes=15),
        )
    plan = world.step()
    assert verbs(plan) == [Verb.IMPORT] * 3
    assert all(action.rule == "R04,R10" for action in plan.actions)
    assert sorted(world.imported) == [
        f"{master}@{(T0 + timedelta(days=d, hours=1)).isoformat()}" for d in range(3)
    ]


def test_psa_time_change_of_a_mailbox_appointment_moves_only_its_time() -> None:
    """R16: for appointments created in the mailbox, date/time changes made in the PSA flow to
    the mailbox, and nothing else of the person's item is changed."""
    world = World()
    item_id = world.person_creates("Dentist", 3)
    settled(world)
    okey, (record_id, value) = next(iter(world.imported.items()))
    moved = T0 + timedelta(days=1)
    world.imported[okey] = (record_id, replace(value, start=moved, end=moved + timedelta(hours=1)))
    plan = world.step()
    assert verbs(plan) == [Verb.ITEM_MOVE] and plan.actions[0].rule == "R16"
    assert world.mailbox[item_id].start == moved
    assert world.mailbox[item_id].subject == "Dentist"
    assert world.plan().writes == 0


def test_mailbox_changes_and_deletions_of_imported_appointments() -> None:
    """R04, R06: the mailbox owns what it created: its edits and its deletion reach the PSA."""
    world = World()
    item_id = world.person_creates("Dentist", 3)
    world.person_creates("Lunch", 5)
    settled(world)
    world.person_edits(item_id, subject="Dentist (moved room)")
    assert verbs(world.step()) == [Verb.IMPORT]
    assert world.imported_for(item_id).title == "Dentist (moved room)"
    world.person_deletes(item_id)
    assert verbs(world.step()) == [Verb.UNIMPORT]
    assert [value.title for _, value in world.imported.values()] == ["Lunch"]


def test_psa_deletion_of_an_imported_appointment_leaves_the_mailbox_alone() -> None:
    """Invariant 2: the engine never deletes what a person created; the link is dropped and the
    appointment is not imported again."""
    world = World(psa={"appointment:1": appointment(1)})
    item_id = world.person_creates("Dentist", 3)
    settled(world)
    world.imported.clear()
    assert verbs(world.step()) == [Verb.DETACH]
    assert item_id in world.mailbox
    assert world.plan().writes == 0
    assert world.imported == {}


def test_a_detached_import_whose_record_comes_back_is_linked_again() -> None:
    """Invariant 4: a PSA read that missed an imported appointment (its record released by an
    administrator while the PSA was unreachable) loses nothing for good: once the record is
    back, the person's appointment is linked again and their edits reach the PSA."""
    world = World(psa={"appointment:1": appointment(1)})
    item_id = world.person_creates("Dentist", 3)
    settled(world)
    missing = dict(world.imported)
    world.imported.clear()
    assert verbs(world.step()) == [Verb.DETACH]
    world.imported.update(missing)
    assert verbs(world.step()) == [Verb.REATTACH]
    world.person_edits(item_id, subject="Dentist (moved room)")
    assert verbs(world.step()) == [Verb.IMPORT]
    assert world.imported_for(item_id).title == "Dentist (moved room)"


def test_an_empty_psa_read_holds_every_deletion_whatever_the_size() -> None:
    """Invariant 4: a PSA that answers a user's read with nothing (an outage, an API user that
    lost its rights) deletes nothing and detaches nothing, even for a user with one item of
    each; the run reports why."""
    world = World(psa={"appointment:1": appointment(1)})
    world.person_creates("Dentist", 3)
    settled(world)
    world.psa.clear()
    world.imported.clear()
    plan = world.step()
    assert plan.actions == () and {action.verb for action in plan.held} == {
        Verb.DELETE,
        Verb.DETACH,
    }
    assert plan.guard and plan.guard.startswith("the PSA answered with no record")
    assert not any(link.detached for link in world.links.values())


def test_the_guard_measures_each_side_against_what_the_engine_owns_there() -> None:
    """Invariant 4: eight PSA items deleted beside eight imports are 100% of the engine's
    items in the mailbox, not 8 of 16: held; as are imports unlinked in bulk."""
    world = World(psa={f"appointment:{n}": appointment(n, hours=n) for n in range(1, 9)})
    for hour in range(8):
        world.person_creates("Own", 24 * 5 + hour)
    world.psa_put(todo(20))
    settled(world)
    for n in range(1, 9):
        del world.psa[f"appointment:{n}"]
    plan = world.step()
    assert plan.guard and "8 of 9 items the engine made in the mailbox" in plan.guard
    assert len(plan.held) == 8 and len(world.stamped()) == 9


def test_both_sides_moved_the_owner_wins() -> None:
    """R16 with a conflict: both sides changed the time; the PSA owns its appointment."""
    world = settled(World(psa={"appointment:1": appointment(1)}))
    item_id = world.links["appointment:1"].item_id
    world.person_edits(item_id, start=T0 + timedelta(days=3), end=T0 + timedelta(days=3, hours=1))
    world.psa_put(appointment(1, hours=2))
    plan = world.step()
    assert verbs(plan) == [Verb.CONFLICT, Verb.UPDATE]
    assert world.mailbox[item_id].start == T0 + timedelta(hours=2)


def test_stamped_copies_are_adopted_and_duplicates_removed() -> None:
    """Invariant 1: after a lost state database the stamped items are adopted, not copied, and a
    second stamped copy of one record is deleted."""
    world = settled(World(psa={"appointment:1": appointment(1), "todo:2": todo(2)}))
    world.links.clear()
    plan = world.step()
    assert Verb.CREATE not in verbs(plan) and verbs(plan).count(Verb.ADOPT) == 2
    original = world.stamped()["appointment:1"][0]
    world.mailbox["copy"] = replace(world.mailbox[original], item_id="copy")
    plan = world.step()
    assert [(a.verb, a.item_id) for a in plan.actions] == [(Verb.DELETE, "copy")]


def test_mass_deletion_is_held_until_allowed() -> None:
    """Invariant 4: a run that would delete more than the share of a mailbox's synced items
    holds its deletions; once allowed, they go."""
    world = settled(World(psa={f"appointment:{n}": appointment(n, hours=n) for n in range(1, 13)}))
    for n in range(1, 11):
        del world.psa[f"appointment:{n}"]
    plan = world.step()
    assert plan.guard and "10 of 12" in plan.guard and len(plan.held) == 10
    assert len(world.mailbox) == 12
    world.allow_mass_delete = True
    assert verbs(world.step()) == [Verb.DELETE] * 10


def test_items_outside_the_date_range_are_left_alone() -> None:
    """R04 within the configured date range: nothing outside it is created, imported or deleted."""
    world = World(psa={"appointment:1": appointment(1, hours=24 * 200)})
    far = world.person_creates("Holiday", 24 * 200)
    assert world.step().writes == 0 and far in world.mailbox


def test_import_off_imports_nothing() -> None:
    """R06: with importing off, mailbox appointments stay in the mailbox."""
    world = World(mode=ImportMode.OFF)
    world.person_creates("Dentist", 3)
    assert world.step().writes == 0


def test_the_direction_table_covers_every_change() -> None:
    """R16, R17: one rule for every (kind, origin, side, change) that can happen."""
    for kind in RecordKind:
        changes = [Change.DETAILS, Change.DELETE] + (
            [Change.TIME] if kind is not RecordKind.CONTACT else []
        )
        for side in Side:
            for change in changes:
                assert direction(kind, Origin.PSA, side, change)
    assert (
        direction(RecordKind.SERVICE_CALL, Origin.PSA, Side.MAILBOX, Change.TIME).outcome
        is Outcome.REVERT
    )
    assert (
        direction(RecordKind.APPOINTMENT, Origin.PSA, Side.MAILBOX, Change.TIME).outcome
        is Outcome.PROPAGATE
    )
    assert len({(r.kind, r.origin, r.side, r.change) for r in DIRECTION_RULES}) == len(
        DIRECTION_RULES
    )


def test_moves_past_the_window_are_followed_on_both_sides() -> None:
    """R16, R17: read as EWS (the whole mailbox) or as Graph's windowed delta, a person's
    appointment and a PSA appointment moved past the window in Outlook move in the PSA, and
    an import moved past it in the PSA moves in Outlook; nothing is deleted or detached."""
    far = T0 + timedelta(days=200)
    for windowed in (False, True):
        world = World(windowed=windowed, psa={"appointment:1": appointment(1)})
        own, other = world.person_creates("Lunch", 5), world.person_creates("Offsite", 7)
        settled(world)
        (engine_item,) = world.stamped()["appointment:1"]
        world.person_edits(own, start=far, end=far + timedelta(hours=1))
        world.person_edits(engine_item, start=far, end=far + timedelta(hours=1))
        okey = world.mailbox[other].item_id
        record_id, value = world.imported[okey]
        world.imported[okey] = (record_id, replace(value, start=far, end=far + timedelta(hours=1)))
        world.step()
        assert world.psa["appointment:1"].start == far
        assert world.imported[own][1].start == far
        assert world.mailbox[other].start == far
        assert not any(link.detached for link in world.links.values())
        assert world.plan().writes == 0


def occurrence(index: int, start_hours: int, original_hours: int, **fields: object):
    """Occurrence ``index`` of the person's series "series-1"."""
    start = T0 + timedelta(hours=start_hours)
    item = replace(
        calendar_item(f"series-1/{index}", None, "Standup", start, start + timedelta(hours=1)),
        master_id="series-1",
        original_start=T0 + timedelta(hours=original_hours),
    )
    return replace(item, **fields)


def test_occurrences_are_known_by_their_series_and_original_start() -> None:
    """R10, R16: an occurrence moved in Outlook keeps its PSA appointment, which moves; a
    state made when occurrences were keyed by their start (an exception keyed by its moved
    start) is taken over under the new key, without a second import or a deletion; a PSA
    move of such an appointment is a conflict recorded with R10 and R16, and the series'
    time stands."""
    world = World()
    for index in range(3):
        world.mailbox[f"series-1/{index}"] = occurrence(index, 24 * 7 * index, 24 * 7 * index)
    settled(world)
    keys = dict(world.imported)
    world.person_edits("series-1/1", start=T0 + timedelta(days=7, hours=2))
    plan = world.step()
    assert verbs(plan) == [Verb.IMPORT]
    assert dict(world.imported).keys() == keys.keys()
    assert world.imported[f"series-1@{(T0 + timedelta(days=7)).isoformat()}"][1].start == (
        T0 + timedelta(days=7, hours=2)
    )

    old_key = f"series-1@{(T0 + timedelta(days=7, hours=2)).isoformat()}"
    new_key = f"series-1@{(T0 + timedelta(days=7)).isoformat()}"
    world.imported[old_key] = world.imported.pop(new_key)
    record_id = world.imported[old_key][0]
    plan = world.step()
    (action,) = plan.actions
    assert (action.verb, action.key, action.imported.origin_key) == (
        Verb.IMPORT,
        f"appointment:{record_id}",
        new_key,
    )
    assert old_key not in world.imported and world.imported[new_key][0] == record_id

    record_id, value = world.imported[new_key]
    later = value.start + timedelta(hours=5)
    world.imported[new_key] = (record_id, replace(value, start=later, end=later))
    plan = world.step()
    assert verbs(plan) == [Verb.CONFLICT, Verb.IMPORT]
    assert plan.actions[0].rule == "R10,R16"
    assert world.imported[new_key][1].start == T0 + timedelta(days=7, hours=2)


def test_a_kind_that_answers_empty_holds_its_deletions() -> None:
    """Invariant 4: the PSA stops answering one kind (the API user lost its rights on
    contacts) while appointments still come: the user's 8 contacts were 8 of 16 items, "not
    more than 50%", and all left the mailbox. A kind that had more records than the
    allowance and answers none is suspect, like an empty side."""
    world = World(mode=ImportMode.OFF)
    for number in range(1, 9):
        world.psa_put(appointment(number, 24 * number))
        world.psa_put(contact(number))
    world.step()
    for number in range(1, 9):
        world.psa.pop(f"contact:{number}")
    plan = world.plan()
    assert plan.count(Verb.DELETE) == 0 and len(plan.held) == 8
    assert "no contact" in (plan.guard or "")
