"""Syncs that read the PSA through its REST API: paging, throttling, a refused login."""

from __future__ import annotations

from exchangelib.protocol import close_connections

from engine.psa.demo import DemoSize
from engine.settings.secrets import write_secret_file
from tests.e2e.harness import AVA, Harness


def test_contacts_over_many_pages_with_a_429_in_the_middle_arrive_once() -> None:
    """R07, R08: with every contact shared, Ava's mailbox gets all of the PSA's contacts,
    read in pages of 500, although the API throttles twice along the way."""
    harness = Harness.create("rest-pages", size=DemoSize(resources=4), psa="rest")
    try:
        harness.set("exchange.sync.contact_scope", "all")
        psa = harness.psa()
        total = psa.counts()["contacts"]
        psa.close()
        assert total > 1000
        assert harness.psa_peer is not None
        harness.psa_peer.throttle(2, retry_after=0.05, after=6)
        result = harness.sync(AVA)
        assert result.users[0].outcome == "ok", result.as_dict()
        assert harness.psa_peer.state.throttled == 2
        contacts = harness.stamped(AVA, "contacts")
        assert len(contacts) == total and all(len(copies) == 1 for copies in contacts.values())
    finally:
        close_connections()
        harness.close()


def test_a_wrong_api_secret_stops_the_run_and_syncs_nothing() -> None:
    """The PSA refuses the API user: one line says so, exit 2, and no mailbox is touched."""
    harness = Harness.create("rest-refused", psa="rest")
    try:
        write_secret_file(harness.paths, "psa-rest", "not-the-secret")
        result = harness.cli("sync", "--once", "--json")
        assert result.returncode == 2 and result.stdout == ""
        assert result.stderr.count("\n") == 1 and "refused the API user" in result.stderr
        assert "not-the-secret" not in result.stderr
        assert harness.stamped(AVA) == {}
    finally:
        close_connections()
        harness.close()
