"""Benchmark: AD Sync of N directory users against N PSA contacts, over Microsoft Graph.

    python tests/bench/adsync_scale.py [--users 100000] [--psa embedded|rest]

Prints one JSON object with three runs of one organization: the initial run (most users
match a contact by e-mail and update it, some by name, some are new), an idle re-run (no
directory change: nothing may be written) and a run after one user's title changed. Each
gives its wall time, the engine's CPU time, the Graph requests (token included), the PSA
write requests (batches of 500) and contacts written, and the engine's peak RSS so far.

The Graph peer (and the PSA REST peer with ``--psa rest``) run in their own process, so
``peak_rss_mb`` is the engine's alone: the Entra ID reader, the planner and the PSA source
(the embedded PSA is a file the engine opens). Runs in minutes at full size; not in CI.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine.psa.contacts import ContactValues, ContactWrite, PsaContact

COMPANY = 1
TENANT, CLIENT, SECRET = "bench-tenant", "bench-client", "bench-secret"
GROUP = "00000000-0000-4000-8000-0000000000ad"
API_SECRET = "bench-api-secret"


def person(index: int) -> ContactValues:
    """The PSA's contact number ``index`` (0-based): unique names and e-mails."""
    return ContactValues(
        first_name=f"First{index}",
        last_name=f"Last{index}",
        email=f"person{index}@customer.example",
        title="Staff",
        phone=f"+1 555 {index % 10_000:04d}",
    )


def directory_user(index: int, users: int) -> dict[str, object]:
    """Graph's user ``index``: 90% match their contact by e-mail, 5% by name only (another
    address), 5% are new; every one has a department the PSA lacks (the initial run
    updates them)."""
    values = person(index)
    mail = values.email
    if index % 20 == 1:
        mail = f"p{index}@corp.customer.example"
    if index >= users - users // 20:
        values = ContactValues(first_name=f"New{index}", last_name=f"Person{index}")
        mail = f"new{index}@customer.example"
    return {
        "givenName": values.first_name,
        "surname": values.last_name,
        "mail": mail,
        "jobTitle": values.title or "Staff",
        "department": "Operations",
        "businessPhones": [values.phone] if values.phone else [],
    }


def seed_psa(path: Path, users: int) -> None:
    """One company with ``users`` contacts, written as AD Sync would (batches of 500)."""
    from engine.adsync.model import WRITE_BATCH
    from engine.psa.embedded import EmbeddedPsa

    psa = EmbeddedPsa(path)
    try:
        psa.insert("companies", name="Bench Org", address="1 Main Street")
        writes = [
            ContactWrite(None, person(index), active=True) for index in range(users - users // 20)
        ]
        for start in range(0, len(writes), WRITE_BATCH):
            psa.write_contacts(COMPANY, writes[start : start + WRITE_BATCH])
    finally:
        psa.close()


def serve(pipe: Connection, users: int, psa_db: str, rest: bool) -> None:
    """Runs in a child process: the Graph peer with the tenant's group of ``users``, and the
    PSA REST peer over the PSA with ``rest``; answers 'stats', 'change' and 'stop'."""
    from engine.sandbox.graph import GraphEmulator
    from engine.settings.adsync import ENTRA_ID_PERMISSIONS

    graph = GraphEmulator(None, TENANT, CLIENT, SECRET, roles=ENTRA_ID_PERMISSIONS)
    tenant = graph.tenant
    group = tenant.add_group("PSA Contacts", id=GROUP)
    ids = []
    for index in range(users):
        ids.append(tenant.add_user(f"user{index}@customer.example", **directory_user(index, users)))
        tenant.add_member(group, ids[-1])
    urls = {"graph_url": graph.start(), "token_url": graph.token_url}
    rest_peer = None
    if rest:
        from engine.sandbox.psa_rest import PsaRestEmulator

        rest_peer = PsaRestEmulator(Path(psa_db), secret=API_SECRET)
        urls |= {
            "rest_url": rest_peer.start(),
            "username": rest_peer.user.username,
            "code": rest_peer.user.integration_code,
        }
    pipe.send(urls)
    while (command := pipe.recv()) != "stop":
        if command == "stats":
            rest_requests = rest_peer.state.requests if rest_peer else 0
            pipe.send((graph.stats.snapshot()["total"], rest_requests))
        elif command == "change":
            tenant.update_user(ids[users // 2], jobTitle="Head of Operations")
            pipe.send("ok")
    graph.stop()
    if rest_peer is not None:
        rest_peer.stop()


@dataclass
class CountingPsa:
    """The engine's PSA source, counting AD Sync's write requests and contacts written."""

    psa: object
    requests: int = 0
    written: int = 0
    reads: list[int] = field(default_factory=list)

    def company_contacts(self, company_id: int) -> list[PsaContact]:
        return self.psa.company_contacts(company_id)  # type: ignore[attr-defined]

    def stored_values(self, values: ContactValues) -> ContactValues:
        return self.psa.stored_values(values)  # type: ignore[attr-defined]

    def write_contacts(self, company_id: int, writes: Sequence[ContactWrite]) -> list[int]:
        self.requests += 1
        self.written += len(writes)
        return self.psa.write_contacts(company_id, writes)  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--psa", choices=("embedded", "rest"), default="embedded")
    args = parser.parse_args()
    from engine.adsync.entra import EntraIdReader
    from engine.adsync.run import run_organization
    from engine.adsync.state import AdSyncState
    from engine.psa.embedded import EmbeddedPsa
    from engine.settings.adsync import OrganizationSync

    work = Path(tempfile.mkdtemp(prefix="adsync-bench-"))
    psa_db = work / "psa.sqlite"
    seeding = time.perf_counter()
    seed_psa(psa_db, args.users)
    seed_s = time.perf_counter() - seeding
    pipe, child = multiprocessing.Pipe()
    peer = multiprocessing.Process(
        target=serve, args=(child, args.users, str(psa_db), args.psa == "rest"), daemon=True
    )
    peer.start()
    if not pipe.poll(1800):
        raise SystemExit("the peers did not start")
    urls = pipe.recv()
    org = OrganizationSync.model_validate(
        {"entra_id": {"tenant_id": TENANT, "client_id": CLIENT, "group_id": GROUP}}
    )
    if args.psa == "rest":
        from engine.psa.rest import RestPsa
        from engine.psa.rest_client import PsaRestClient

        source: object = RestPsa(
            PsaRestClient(urls["rest_url"], urls["username"], API_SECRET, urls["code"])
        )
    else:
        source = EmbeddedPsa(psa_db)
    psa = CountingPsa(source)
    state = AdSyncState(work / "adsync.sqlite")

    def directory() -> EntraIdReader:
        return EntraIdReader(
            COMPANY,
            org.entra_id,
            org.fields,
            SECRET,
            date.today(),
            urls["graph_url"],
            urls["token_url"],
        )

    def stats() -> tuple[int, int]:
        pipe.send("stats")
        return pipe.recv()

    def phase(before: Callable[[], None] | None = None) -> dict[str, object]:
        if before is not None:
            before()
        graph_before, rest_before = stats()
        requests, written = psa.requests, psa.written
        wall, cpu = time.perf_counter(), time.process_time()
        result = run_organization(COMPANY, org, _opened(directory), psa, state)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        graph_after, rest_after = stats()
        report: dict[str, object] = {
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2),
            "graph_requests": graph_after - graph_before,
            "psa_write_requests": psa.requests - requests,
            "contacts_written": psa.written - written,
            "outcome": result.outcome,
            "totals": result.totals,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
        if args.psa == "rest":
            report["psa_rest_requests"] = rest_after - rest_before
        return report

    def change() -> None:
        pipe.send("change")
        pipe.recv()

    report = {
        "directory_users": args.users,
        "psa_contacts": args.users - args.users // 20,
        "psa": args.psa,
        "seed_s": round(seed_s, 1),
        "initial": phase(),
        "idle": phase(),
        "one_change": phase(change),
    }
    pipe.send("stop")
    peer.join(timeout=30)
    print(json.dumps(report, indent=2))


def _opened(factory: Callable[[], object]) -> Callable[[], object]:
    """A directory opener (a context manager closing the reader after the read)."""
    from contextlib import closing

    return lambda: closing(factory())  # type: ignore[arg-type, return-value]


if __name__ == "__main__":
    main()
