"""AD Sync runs over the embedded PSA: apply in batches, idempotence, state, failures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest

from engine.adsync.demo import DemoCase, demo_directory
from engine.adsync.matching import Resolution, ResolutionKind
from engine.adsync.run import run_organization
from engine.adsync.state import RUNS_KEPT, AdSyncState
from engine.psa.contacts import ContactValues, ContactWrite, PsaContact
from engine.psa.demo import DemoSize, seed_demo_psa
from engine.psa.embedded import EmbeddedPsa
from engine.psa.model import RecordKind
from engine.settings.adsync import OrganizationSync
from tests.adsync.directory import ListDirectory

SIZE = DemoSize(
    resources=4,
    companies=3,
    contacts_per_company=(7, 9),
    opportunities=1,
    appointments_per_resource=(1, 1),
    todos_per_resource=(1, 1),
    service_calls=1,
)
ORG = OrganizationSync()


@dataclass
class CountingPsa:
    """The embedded PSA, counting AD Sync's write requests (every call goes through)."""

    psa: EmbeddedPsa
    batches: list[int] = field(default_factory=list)

    def company_contacts(self, company_id: int) -> list[PsaContact]:
        return self.psa.company_contacts(company_id)

    def stored_values(self, values: ContactValues) -> ContactValues:
        return self.psa.stored_values(values)

    def write_contacts(self, company_id: int, writes: Sequence[ContactWrite]) -> list[int]:
        self.batches.append(len(writes))
        return self.psa.write_contacts(company_id, writes)


@pytest.fixture
def world(tmp_path: Path):
    psa = EmbeddedPsa(tmp_path / "psa.sqlite")
    seed_demo_psa(psa, date(2026, 12, 2), size=SIZE)
    demo = demo_directory(1, psa.company_contacts(1))
    state = AdSyncState(tmp_path / "adsync.sqlite")
    yield CountingPsa(psa), demo, state
    psa.close()
    state.close()


def test_demo_run_then_idle_run_writes_nothing(world) -> None:
    """issue 19: a second run with no directory change writes nothing."""
    psa, demo, state = world
    directory = ListDirectory.of_demo(demo)
    first = run_organization(1, ORG, lambda: directory, psa, state)
    assert first.totals["created"] == 3 and first.totals["conflicts"] == 2
    assert first.totals["inactivated"] == 1 and first.totals["errors"] == 0
    assert first.outcome == "conflicts"
    writes = sum(psa.batches)
    assert writes == first.totals["created"] + first.totals["updated"] + 1
    second = run_organization(1, ORG, lambda: directory, psa, state)
    assert sum(psa.batches) == writes, "the idle run wrote"
    assert second.totals["created"] == second.totals["updated"] == 0
    first_written = first.totals["created"] + first.totals["updated"] + 1
    assert second.totals["unchanged"] == first.totals["unchanged"] + first_written


def test_planted_cases_outcomes(world) -> None:
    """issue 19 demo: the name-only match updates the contact's e-mail, the blank field
    keeps the PSA's phone, the disabled user's contact is inactive, the shared e-mail is a
    conflict for both users, the new users are new contacts."""
    psa, demo, state = world
    run_organization(1, ORG, lambda: ListDirectory.of_demo(demo), psa, state)
    contacts = {c.id: c for c in psa.company_contacts(1)}
    by_case = {entry.case: entry for entry in demo}
    name_only = by_case[DemoCase.NAME_ONLY]
    assert contacts[name_only.contact_id].values.email == name_only.user.values.email
    blank = by_case[DemoCase.BLANK_FIELD]
    assert contacts[blank.contact_id].values.phone != ""
    assert not contacts[by_case[DemoCase.DISABLED].contact_id].active
    assert contacts[by_case[DemoCase.OUT_OF_SCOPE].contact_id].active
    records = {r.directory_id: r for r in state.users(1)}
    shared = [e.user.directory_id for e in demo if e.case is DemoCase.SHARED_EMAIL]
    assert {records[d].change for d in shared} == {"conflict"}
    assert {r.directory_id for r in state.users(1, conflicts_only=True)} == set(shared)
    new = [records[e.user.directory_id] for e in demo if e.case is DemoCase.NEW]
    assert all(r.change == "created" and r.contact_id in contacts for r in new)


def test_removed_user_makes_contact_inactive_and_return_reactivates(world) -> None:
    """issue 19: a user removed from scope makes the mapped contact inactive; back in
    scope, the same contact is reactivated (the old mapping is kept)."""
    psa, demo, state = world
    users = [entry.user for entry in demo if entry.in_scope]
    run_organization(1, ORG, lambda: ListDirectory(users), psa, state)
    leaver = next(e for e in demo if e.case is DemoCase.EMAIL_MATCH)
    rest = [u for u in users if u.directory_id != leaver.user.directory_id]
    gone = run_organization(1, ORG, lambda: ListDirectory(rest), psa, state)
    assert gone.totals["inactivated"] == 1
    contact = {c.id: c for c in psa.company_contacts(1)}[leaver.contact_id]
    assert not contact.active
    back = run_organization(1, ORG, lambda: ListDirectory(users), psa, state)
    assert back.totals["reactivated"] == 1
    assert state.mappings(1)[leaver.user.directory_id] == leaver.contact_id


def test_directory_failure_writes_nothing(world) -> None:
    """issue 19: a directory read that fails writes nothing (never an empty scope)."""
    psa, demo, state = world
    directory = ListDirectory.of_demo(demo)
    directory.failure = "page 2 of the group's members failed"
    result = run_organization(1, ORG, lambda: directory, psa, state)
    assert result.outcome == "failed" and "page 2" in result.message
    assert psa.batches == [] and state.mappings(1) == {}
    assert state.runs(1)[0].outcome == "failed"


def test_resolutions_end_the_conflicts(world) -> None:
    """issue 19: the admin resolves each conflict (pick the contact, create a new one);
    the next run applies them."""
    psa, demo, state = world
    directory = ListDirectory.of_demo(demo)
    run_organization(1, ORG, lambda: directory, psa, state)
    person, desk = [e for e in demo if e.case is DemoCase.SHARED_EMAIL]
    state.resolve(
        1, person.user.directory_id, Resolution(ResolutionKind.CONTACT, person.contact_id)
    )
    state.resolve(1, desk.user.directory_id, Resolution(ResolutionKind.NEW))
    result = run_organization(1, ORG, lambda: directory, psa, state)
    assert result.totals["conflicts"] == 0 and result.totals["created"] == 1
    assert result.outcome == "ok"
    assert state.mappings(1)[person.user.directory_id] == person.contact_id


def test_dry_run_writes_nothing_and_last_ten_runs_kept(world) -> None:
    """issue 19: a dry run writes nothing; the last 10 runs are kept with their counts."""
    psa, demo, state = world
    directory = ListDirectory.of_demo(demo)
    dry = run_organization(1, ORG, lambda: directory, psa, state, dry_run=True)
    assert dry.totals["created"] == 3 and psa.batches == [] and state.mappings(1) == {}
    assert state.organization(1).last_run_at is None
    for _ in range(RUNS_KEPT + 2):
        run_organization(1, ORG, lambda: directory, psa, state)
    runs = state.runs(1, limit=50)
    assert len(runs) == RUNS_KEPT and runs[0].totals["unchanged"] > 0
    assert state.organization(1).last_run_at is not None


@dataclass
class DeletingPsa(CountingPsa):
    """The embedded PSA where someone deletes a contact in the PSA while the run plans."""

    doomed: int = 0

    def write_contacts(self, company_id: int, writes: Sequence[ContactWrite]) -> list[int]:
        if self.doomed:
            self.psa.delete(RecordKind.CONTACT, self.doomed)
            self.doomed = 0
        return super().write_contacts(company_id, writes)


def test_refused_write_is_an_error_line_and_the_rest_is_written(world) -> None:
    """issue 19: a write the PSA refuses (its contact deleted meanwhile) is an error line
    of the run naming the user; the rest of its batch is written; the next run maps the
    user anew."""
    counting, demo, state = world
    doomed = next(e for e in demo if e.case is DemoCase.NAME_ONLY)
    psa = DeletingPsa(counting.psa, doomed=doomed.contact_id)
    result = run_organization(1, ORG, lambda: ListDirectory.of_demo(demo), psa, state)
    assert result.outcome == "errors" and result.totals["errors"] == 1
    assert result.errors[0].startswith(doomed.user.login + ": ")
    assert result.totals["created"] == 3 and result.totals["inactivated"] == 1
    assert state.runs(1)[0].errors == tuple(result.errors)
    again = run_organization(1, ORG, lambda: ListDirectory.of_demo(demo), psa, state)
    assert again.totals["errors"] == 0 and again.totals["created"] == 1


def test_empty_scope_holds_inactivations_until_allowed_once(world) -> None:
    """issue 19 guard: a scope that answers empty holds the inactivations, says so and
    keeps the reason for the console; the admin's override releases them for one run."""
    psa, demo, state = world
    run_organization(1, ORG, lambda: ListDirectory.of_demo(demo), psa, state)
    synced = len(state.mappings(1))
    held = run_organization(1, ORG, lambda: ListDirectory([]), psa, state)
    assert held.outcome == "held" and held.held >= 5 and held.totals["inactivated"] == 0
    assert "no enabled user" in held.message
    assert state.organization(1).guard_detail == held.message
    disabled = next(e for e in demo if e.case is DemoCase.DISABLED)
    assert all(c.active for c in psa.company_contacts(1) if c.id != disabled.contact_id)
    state.allow_inactivations(1)
    released = run_organization(1, ORG, lambda: ListDirectory([]), psa, state)
    assert released.outcome == "ok" and released.totals["inactivated"] == held.held
    assert state.organization(1).guard_detail is None
    assert not state.organization(1).allow_inactivations
    assert len(state.mappings(1)) == synced
