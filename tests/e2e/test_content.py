"""What the text of an item says on the other side: bodies read as a person sees them, and
PSA names in every item that shows them."""

from __future__ import annotations

from exchangelib import HTMLBody

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
