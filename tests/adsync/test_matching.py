"""Issue 19's matching and planning rules, one test each (pure functions, no I/O)."""

from __future__ import annotations

from engine.adsync.matching import (
    ConflictKind,
    MatchStep,
    Resolution,
    ResolutionKind,
    match_users,
    name_key,
)
from engine.adsync.model import DirectoryUser
from engine.adsync.plan import Change, plan_run
from engine.psa.contacts import ContactValues, PsaContact
from engine.settings.adsync import ContactField

ALL_FIELDS = list(ContactField)


def user(
    directory_id: str, first: str, last: str, email: str = "", enabled: bool = True, **values: str
) -> DirectoryUser:
    return DirectoryUser(
        directory_id,
        directory_id,
        ContactValues(first_name=first, last_name=last, email=email, **values),
        enabled,
    )


def contact(
    contact_id: int, first: str, last: str, email: str = "", active: bool = True, **values: str
) -> PsaContact:
    return PsaContact(
        contact_id,
        1,
        ContactValues(first_name=first, last_name=last, email=email, **values),
        active,
    )


def plan_of(users, contacts, mappings=None, resolutions=None, fields=ALL_FIELDS, **options):
    return plan_run(users, contacts, mappings or {}, resolutions or {}, fields, **options)


def change_of(plan, directory_id: str):
    (found,) = [p for p in plan.users if p.directory_id == directory_id]
    return found


def test_email_match_case_insensitive_active_first() -> None:
    """issue 19: e-mail match, case-insensitive, active contacts first."""
    matching = match_users(
        [user("u", "Ann", "Lee", "Ann.Lee@X.example")],
        [
            contact(1, "Old", "Name", "ann.lee@x.example", active=False),
            contact(2, "Other", "Name", "ANN.LEE@x.example"),
        ],
        {},
        {},
    )
    assert matching.matches["u"].contact_id == 2
    assert matching.matches["u"].step is MatchStep.EMAIL


def test_email_match_on_inactive_contact_reactivates_it() -> None:
    """issue 19: e-mail match, then inactive contacts; a match on an inactive contact
    reactivates it."""
    plan = plan_of(
        [user("u", "Ann", "Lee", "ann@x.example")],
        [contact(7, "Ann", "Lee", "ann@x.example", active=False)],
    )
    found = change_of(plan, "u")
    assert found.change is Change.REACTIVATED and found.contact_id == 7
    assert found.write is not None and found.write.active is True


def test_email_before_name() -> None:
    """issue 19: the e-mail step comes before the name step."""
    matching = match_users(
        [user("u", "Ann", "Lee", "ann@x.example")],
        [contact(1, "Ann", "Lee", "other@x.example"), contact(2, "Annie", "Lee", "ann@x.example")],
        {},
        {},
    )
    assert matching.matches["u"].contact_id == 2


def test_name_match_normalised_active_first() -> None:
    """issue 19: normalised name match (special characters removed, case-insensitive),
    active first then inactive."""
    matching = match_users(
        [user("u", "Zoë", "O'Brien-Smith", "new@x.example")],
        [contact(1, "zoe", "obriensmith", active=False), contact(2, "ZOE", "O Brien Smith")],
        {},
        {},
    )
    assert matching.matches["u"] == matching.matches["u"].__class__(2, MatchStep.NAME)


def test_name_match_with_middle_name() -> None:
    """issue 19: name match on first + middle + last; first + last only when the middle
    name is blank on both sides."""
    assert name_key(ContactValues(first_name="Ann", middle_name="M", last_name="Lee")) == "annmlee"
    matching = match_users(
        [user("m", "Ann", "Lee", middle_name="Marie"), user("n", "Bob", "Ray")],
        [
            contact(1, "Ann", "Lee"),
            contact(2, "Ann", "Lee", middle_name="Marie"),
            contact(3, "Bob", "Ray", middle_name="J"),
        ],
        {},
        {},
    )
    assert matching.matches["m"].contact_id == 2
    assert matching.matches["n"].step is MatchStep.NEW


def test_no_match_new_contact_with_chosen_fields_only() -> None:
    """issue 19: no match makes a new contact; only the chosen fields are written (names
    always)."""
    plan = plan_of(
        [user("u", "Ann", "Lee", "ann@x.example", title="CEO", phone="+1 555")],
        [],
        fields=[ContactField.TITLE],
    )
    found = change_of(plan, "u")
    assert found.change is Change.CREATED
    assert found.write is not None
    assert found.write.values == ContactValues(first_name="Ann", last_name="Lee", title="CEO")


def test_mapping_wins_over_matching() -> None:
    """issue 19: an existing mapping (directory id -> contact) wins over matching."""
    matching = match_users(
        [user("u", "Ann", "Lee", "ann@x.example")],
        [contact(1, "Ann", "Lee", "ann@x.example"), contact(2, "Someone", "Else")],
        {"u": 2},
        {},
    )
    assert matching.matches["u"].contact_id == 2 and matching.matches["u"].step is MatchStep.MAPPING


def test_returning_user_keeps_old_mapping() -> None:
    """issue 19: a user who returns to scope keeps the old mapping; its contact is
    reactivated."""
    contacts = [
        contact(5, "Ann", "Lee", "ann@x.example", active=False),
        contact(6, "Ann", "Lee", "ann@x.example"),
    ]
    plan = plan_of([user("u", "Ann", "Lee", "ann@x.example")], contacts, mappings={"u": 5})
    found = change_of(plan, "u")
    assert (found.change, found.contact_id) == (Change.REACTIVATED, 5)


def test_shared_email_is_a_conflict_for_both() -> None:
    """issue 19: two directory users with the same e-mail conflict; neither is mapped."""
    plan = plan_of(
        [user("a", "Ann", "Lee", "desk@x.example"), user("b", "Front", "Desk", "DESK@x.example")],
        [contact(1, "Ann", "Lee", "desk@x.example")],
    )
    for directory_id, other in (("a", "b"), ("b", "a")):
        found = change_of(plan, directory_id)
        assert found.change is Change.CONFLICT and found.write is None
        assert found.conflict is not None and found.conflict.kind is ConflictKind.SHARED_EMAIL
        assert found.conflict.users == (other,)
    assert plan.counts[Change.CONFLICT] == 2 and not plan.writes()


def test_shared_name_is_a_conflict_at_the_name_step() -> None:
    """issue 19: two directory users with the same name conflict when the name would match
    a contact; users matched by e-mail are not concerned."""
    plan = plan_of(
        [
            user("a", "Ann", "Lee", "a@x.example"),
            user("b", "Ann", "Lee", "b@x.example"),
            user("c", "Ann", "Lee", "c@x.example"),
        ],
        [contact(1, "Ann", "Lee", "c@x.example"), contact(2, "Ann", "Lee", "old@x.example")],
    )
    assert (
        change_of(plan, "c").change is Change.UPDATED
        or change_of(plan, "c").change is Change.UNCHANGED
    )
    assert change_of(plan, "c").contact_id == 1
    for directory_id in ("a", "b"):
        found = change_of(plan, directory_id)
        assert found.conflict is not None and found.conflict.kind is ConflictKind.SHARED_NAME


def test_several_contacts_matching_one_user() -> None:
    """issue 19: several PSA contacts matching one user at one step and activity level is a
    conflict listing them."""
    plan = plan_of(
        [user("u", "Ann", "Lee", "ann@x.example")],
        [contact(3, "Ann", "Lee", "ann@x.example"), contact(4, "A", "L", "Ann@x.example")],
    )
    found = change_of(plan, "u")
    assert found.conflict is not None and found.conflict.kind is ConflictKind.SEVERAL_CONTACTS
    assert found.conflict.contacts == (3, 4)


def test_resolutions_are_applied() -> None:
    """issue 19: the admin's resolutions (pick the contact, create a new one, exclude the
    user) are applied instead of the conflict."""
    users = [
        user("a", "Ann", "Lee", "desk@x.example"),
        user("b", "Front", "Desk", "desk@x.example"),
        user("c", "Cy", "Ray", "desk@x.example"),
    ]
    contacts = [contact(1, "Ann", "Lee", "desk@x.example")]
    resolutions = {
        "a": Resolution(ResolutionKind.CONTACT, 1),
        "b": Resolution(ResolutionKind.NEW),
        "c": Resolution(ResolutionKind.EXCLUDE),
    }
    plan = plan_of(users, contacts, resolutions=resolutions)
    assert (
        change_of(plan, "a").contact_id == 1 and change_of(plan, "a").step is MatchStep.RESOLUTION
    )
    assert change_of(plan, "b").change is Change.CREATED
    assert change_of(plan, "c").change is Change.EXCLUDED and change_of(plan, "c").write is None


def test_blank_directory_field_never_overwrites() -> None:
    """issue 19: a blank directory field never overwrites a PSA value."""
    plan = plan_of(
        [user("u", "Ann", "Lee", "ann@x.example", phone="", title="CTO")],
        [contact(1, "Ann", "Lee", "ann@x.example", phone="+1 555 1234", title="CEO")],
    )
    found = change_of(plan, "u")
    assert found.write is not None and found.write.changed == frozenset({"title"})
    assert found.write.values.phone == "+1 555 1234"


def test_only_chosen_fields_are_written() -> None:
    """issue 19: only the organization's chosen fields are written; names always."""
    plan = plan_of(
        [user("u", "Anna", "Lee", "ann@x.example", title="CTO", department="IT", city="Oslo")],
        [contact(1, "Ann", "Lee", "ann@x.example", title="CEO")],
        fields=[ContactField.DEPARTMENT],
    )
    found = change_of(plan, "u")
    assert found.write is not None and found.write.changed == frozenset(
        {"first_name", "department"}
    )


def test_user_leaving_scope_makes_contact_inactive() -> None:
    """issue 19: a mapped user gone from scope makes its contact inactive, never deleted."""
    plan = plan_of(
        [user("stay", "Bo", "Ray", "bo@x.example")],
        [contact(1, "Ann", "Lee"), contact(2, "Bo", "Ray", "bo@x.example")],
        mappings={"gone": 1, "stay": 2},
    )
    found = change_of(plan, "gone")
    assert found.change is Change.INACTIVATED and found.user is None
    assert found.write is not None and found.write.active is False and not found.write.changed


def test_disabled_user_makes_contact_inactive() -> None:
    """issue 19: a disabled user counts as out of scope: its contact becomes inactive; a
    disabled user the PSA does not know creates nothing."""
    plan = plan_of(
        [
            user("d", "Ann", "Lee", "ann@x.example", enabled=False),
            user("n", "No", "Body", enabled=False),
        ],
        [contact(1, "Ann", "Lee", "ann@x.example")],
    )
    assert change_of(plan, "d").change is Change.INACTIVATED
    assert change_of(plan, "n").change is Change.UNCHANGED and change_of(plan, "n").write is None


def test_only_mapped_contacts_are_inactivated() -> None:
    """issue 19: only contacts a mapping owns are ever inactivated; other contacts of the
    organization are left alone."""
    plan = plan_of(
        [],
        [contact(1, "Ann", "Lee"), contact(2, "Bo", "Ray")],
        mappings={"gone": 1},
        allow_inactivations=True,
    )
    assert [(p.directory_id, p.change) for p in plan.users] == [("gone", Change.INACTIVATED)]


def test_guard_holds_inactivations_when_scope_empty() -> None:
    """issue 19 guard: a scope that comes back empty holds the inactivations and says so;
    the admin override releases them."""
    contacts = [contact(1, "Ann", "Lee")]
    plan = plan_of([], contacts, mappings={"gone": 1})
    assert plan.guard is not None and "no enabled user" in plan.guard
    assert change_of(plan, "gone").change is Change.HELD and not plan.writes()
    released = plan_of([], contacts, mappings={"gone": 1}, allow_inactivations=True)
    assert released.guard is None and change_of(released, "gone").change is Change.INACTIVATED


def test_guard_holds_inactivations_when_scope_halves() -> None:
    """issue 19 guard: more than half of the synced contacts leaving holds the
    inactivations; fewer leaving is people leaving."""
    contacts = [contact(n, "P", str(n)) for n in range(1, 13)]
    mappings = {f"u{n}": n for n in range(1, 13)}
    staying = [user(f"u{n}", "P", str(n)) for n in range(1, 6)]
    plan = plan_of(staying, contacts, mappings=mappings)
    assert plan.guard is not None and "7 of 12" in plan.guard
    assert plan.counts[Change.HELD] == 7 and plan.counts[Change.INACTIVATED] == 0
    most = [user(f"u{n}", "P", str(n)) for n in range(1, 9)]
    assert plan_of(most, contacts, mappings=mappings).guard is None


def test_mapped_contact_stays_its_users_until_the_admin_moves_it() -> None:
    """issue 19: a mapped contact stays its user's while the user is out of scope (a user
    who returns keeps it): another user with its e-mail gets a new contact; the admin may
    give it to the new user instead (an account made anew), which releases the old
    mapping rather than making the contact inactive."""
    users = [user("new", "Ann", "Lee", "ann@x.example")]
    contacts = [contact(1, "Ann", "Lee", "ann@x.example")]
    plan = plan_of(users, contacts, mappings={"old": 1})
    assert change_of(plan, "new").change is Change.CREATED
    assert change_of(plan, "old").change is Change.INACTIVATED
    moved = plan_of(
        users,
        contacts,
        mappings={"old": 1},
        resolutions={"new": Resolution(ResolutionKind.CONTACT, 1)},
    )
    assert change_of(moved, "new").contact_id == 1
    assert "old" in moved.released and all(p.directory_id != "old" for p in moved.users)


def test_a_contact_a_later_step_takes_is_no_candidate_of_an_earlier_one() -> None:
    """issue 19: idempotent: Ann Lee's e-mail matches two inactive contacts (a conflict),
    but Ann M Lee, disabled, takes one of them by her name. The run decides what the next
    run, seeing that contact mapped, would: Ann Lee is the other one, and a second run
    writes nothing (hypothesis found the run that changed its mind)."""
    users = [
        user("ann", "Ann", "Lee", "ann@x.example"),
        user("ann-m", "Ann", "Lee", enabled=False, middle_name="M"),
    ]
    contacts = [
        contact(3, "Ann", "Lee", "ann@x.example", active=False),
        contact(4, "Ann", "Lee", "ann@x.example", active=False, middle_name="M"),
    ]
    first = plan_of(users, contacts)
    assert change_of(first, "ann").contact_id == 3
    assert change_of(first, "ann-m").contact_id == 4
    second = plan_of(users, contacts, mappings=first.mappings)
    assert change_of(second, "ann").contact_id == 3
