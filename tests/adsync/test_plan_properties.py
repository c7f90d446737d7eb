"""Properties of AD Sync's planning over random directories and PSAs (hypothesis)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.adsync.model import DirectoryUser
from engine.adsync.plan import Change, Plan, plan_run
from engine.psa.contacts import ContactValues, PsaContact
from engine.settings.adsync import ContactField

NAMES = st.sampled_from(["Ann", "ann", "Bo", "Zoë", "Zoe", "O'Hara", "", "Cy"])
EMAILS = st.sampled_from(["", "a@x.example", "A@X.example", "b@x.example", "c@x.example"])
TEXT = st.sampled_from(["", "CEO", "IT", "+1 555 1000"])


@st.composite
def values(draw: st.DrawFn) -> ContactValues:
    return ContactValues(
        first_name=draw(NAMES),
        middle_name=draw(st.sampled_from(["", "", "M"])),
        last_name=draw(NAMES),
        email=draw(EMAILS),
        title=draw(TEXT),
        phone=draw(TEXT),
    )


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[DirectoryUser], list[PsaContact], dict[str, int]]:
    contacts = [
        PsaContact(number, 1, draw(values()), draw(st.booleans()))
        for number in range(1, draw(st.integers(0, 6)) + 1)
    ]
    users = [
        DirectoryUser(f"u{number}", f"u{number}", draw(values()), draw(st.booleans()))
        for number in range(draw(st.integers(0, 6)))
    ]
    ids = [contact.id for contact in contacts]
    mapped = draw(st.lists(st.sampled_from(ids), unique=True, max_size=len(ids))) if ids else []
    owners = [f"u{n}" for n in range(8)]
    mappings = dict(zip(draw(st.permutations(owners)), mapped, strict=False))
    return users, contacts, mappings


FIELDS = st.lists(st.sampled_from(list(ContactField)), unique=True)


def apply(plan: Plan, contacts: list[PsaContact], mappings: dict[str, int]) -> None:
    """What a PSA and the state would hold after the plan's writes (the applier's job)."""
    by_id = {contact.id: contact for contact in contacts}
    for directory_id in plan.released:
        mappings.pop(directory_id, None)
    mappings.update(plan.mappings)
    for user in plan.writes():
        write = user.write
        assert write is not None
        if write.contact_id is None:
            new = PsaContact(max(by_id, default=0) + 1, 1, write.values, True)
            by_id[new.id] = new
            mappings[user.directory_id] = new.id
            continue
        old = by_id[write.contact_id]
        active = old.active if write.active is None else write.active
        by_id[old.id] = replace(old, values=write.values, active=active)
    contacts[:] = list(by_id.values())


@settings(max_examples=120, deadline=None)
@given(worlds(), FIELDS)
def test_second_run_writes_nothing(world, fields) -> None:
    """issue 19: idempotent: a second run with no directory change writes nothing."""
    users, contacts, mappings = world
    first = plan_run(users, contacts, mappings, {}, fields, allow_inactivations=True)
    apply(first, contacts, mappings)
    second = plan_run(users, contacts, mappings, {}, fields, allow_inactivations=True)
    assert second.writes() == []


@settings(max_examples=120, deadline=None)
@given(worlds(), FIELDS)
def test_one_contact_one_user_and_one_outcome_each(world, fields) -> None:
    """issue 19: every user in scope has one outcome; no contact is given to two users."""
    users, contacts, mappings = world
    plan = plan_run(users, contacts, mappings, {}, fields)
    in_scope = [p.directory_id for p in plan.users if p.user is not None]
    assert sorted(in_scope) == sorted(user.directory_id for user in users)
    held = [
        p.contact_id
        for p in plan.users
        if p.contact_id is not None and p.change is not Change.EXCLUDED
    ]
    assert len(held) == len(set(held))


@settings(max_examples=120, deadline=None)
@given(worlds(), FIELDS)
def test_writes_respect_blanks_fields_and_ownership(world, fields) -> None:
    """issue 19: a blank directory field never overwrites; a contact is only made inactive
    when a mapping owns it or a disabled user matched it; nothing outside the chosen
    fields changes."""
    users, contacts, mappings = world
    plan = plan_run(users, contacts, mappings, {}, fields, allow_inactivations=True)
    by_id = {contact.id: contact for contact in contacts}
    for user_plan in plan.writes():
        write = user_plan.write
        assert write is not None
        if write.contact_id is None:
            continue
        old = by_id[write.contact_id]
        for name in write.changed:
            assert getattr(write.values, name) != "" or getattr(old.values, name) == ""
        unchanged = set(ContactValues.__slots__) - set(write.changed)
        assert all(getattr(write.values, n) == getattr(old.values, n) for n in unchanged)
        if write.active is False:
            owner = mappings.get(user_plan.directory_id) == old.id
            assert owner or (user_plan.user is not None and not user_plan.user.enabled)
