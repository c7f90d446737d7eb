"""What the text of an item says on the other side: bodies read as a person sees them, and
PSA names in every item that shows them."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from exchangelib import HTMLBody

from engine.psa.embedded import now_ms
from engine.psa.model import CalendarRecord, RecordKind, ServiceCall, ToDo
from engine.psa.rest import CURSOR_MARGIN
from tests.e2e.harness import AVA, Harness

OUTLOOK_HTML = (
    "<html><head><style>p.MsoNormal {margin: 0}</style></head><body>"
    '<p class="MsoNormal">Fish &amp; Chips &lt;3</p>'
    '<p class="MsoNormal">Second&nbsp;line<br>third <b>line</b></p>'
    '<p class="MsoNormal">&nbsp;</p>'
    "<ul><li>bring the quote</li></ul></body></html>"
)


def test_html_bodies_reach_the_psa_as_the_text_a_person_reads(either_api: Harness) -> None:
    """R04, R06: an Outlook body written as HTML becomes plain text in the PSA: entities as
    characters, paragraphs and line breaks as lines, no markup; over EWS and Graph alike."""
    either_api.person_appointment(AVA, "Supplier lunch", 2, 12, body=HTMLBody(OUTLOOK_HTML))
    either_api.settled()
    (row,) = [row for row in either_api.imported() if row["title"] == "Supplier lunch"]
    assert row["description"] == ("Fish & Chips <3\nSecond line\nthird line\n\n- bring the quote")


def rename_company(harness: Harness, company_id: int, name: str) -> None:
    """Rename a company as the PSA does: a new change sequence and modification time."""
    psa = harness.psa()
    try:
        with psa.transaction() as db:
            db.execute(
                "UPDATE companies SET name = ?, seq = ?, modified_ms = ? WHERE id = ?",
                (name, psa.next_seq(), now_ms(), company_id),
            )
    finally:
        psa.close()


def synced_records(harness: Harness) -> dict[str, tuple[str, CalendarRecord]]:
    """Record key -> (mailbox, PSA record) for every record with its item in a mailbox."""
    psa = harness.psa()
    now = datetime.now(UTC)
    found = {}
    try:
        for resource in psa.resources():
            stamped = harness.stamped(resource.email)
            for record in psa.calendar_records(
                resource.id, now - timedelta(days=400), now + timedelta(days=400)
            ):
                if record.key in stamped:
                    found[record.key] = (resource.email, record)
    finally:
        psa.close()
    return found


def shown(harness: Harness, address: str, key: str) -> dict:
    (item,) = harness.stamped(address)[key]
    return item


def test_psa_names_reach_to_dos_and_service_calls_without_contacts_synced(
    either_psa: Harness,
) -> None:
    """R15: a company renamed in the PSA reaches the subjects of its service calls and the
    bodies of its to-dos on the next run, and a renamed contact the to-dos naming them, also
    for users whose contacts are not synced."""
    either_psa.set("exchange.sync.share_contacts", "false")
    either_psa.settled()
    if either_psa.psa_peer is not None:
        # The REST PSA reads changes from a margin before the cursor: one more run after it
        # leaves the runs' own writes behind, as runs ten minutes apart do.
        time.sleep(CURSOR_MARGIN.total_seconds())
        either_psa.sync()
    records = synced_records(either_psa)
    call_at, call = next(found for found in records.values() if isinstance(found[1], ServiceCall))
    todo_at, todo = next(
        found for found in records.values() if isinstance(found[1], ToDo) and found[1].contact_name
    )
    psa = either_psa.psa()
    (contact_id,) = psa._rows("SELECT contact_id FROM todos WHERE id = ?", (todo.id,))[0]
    psa.update(RecordKind.CONTACT, contact_id, first_name="Renamed")
    psa.close()
    rename_company(either_psa, call.company.id, "Call Company Renamed")
    rename_company(either_psa, todo.company.id, "Todo Company Renamed")
    either_psa.sync()
    assert shown(either_psa, call_at, call.key)["subject"] == "Service call: Call Company Renamed"
    body = shown(either_psa, todo_at, todo.key)["body"]
    assert "Customer: Todo Company Renamed" in body
    assert f"Contact: Renamed {todo.contact_name.split(' ', 1)[1]}" in body
