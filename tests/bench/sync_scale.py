"""Benchmark: initial and incremental sync of N users x M items over EWS and Microsoft Graph.

    python tests/bench/sync_scale.py [--users 200] [--items 100] [--workers 8] [--api both]

Prints one JSON object, one report per mailbox API (each on a freshly seeded profile) and
the requests per user of both side by side. The emulators run in their own process, so
``cpu_s`` and ``peak_rss_mb`` are the engine's alone (the profile is seeded in a third
process). A Graph ``$batch`` counts as one request. The naive strategy (EWS only) is what a
sync without SyncFolderItems would do every run: FindItem over every synced folder, then
GetItem of every item, through the same exchangelib client.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

TARGETS = {
    "incremental_requests_per_user_per_folder_max": 1.0,
    "incremental_users_per_s_min": 100.0,
    "request_ratio_naive_over_incremental_min": 20.0,
    "peak_rss_mb_max_for_1000x100": 300.0,
}


def demo_size(users: int, items: int):
    """About ``items`` PSA records per user: 55% appointments, 35% to-dos, the rest contacts
    and service calls (the demo generator's mix)."""
    from engine.psa.demo import DemoSize

    appointments = max(1, round(items * 0.55))
    todos = max(1, round(items * 0.35))
    return DemoSize(
        resources=users,
        companies=max(4, users // 4),
        contacts_per_company=(2, 4),
        opportunities=max(2, users // 2),
        appointments_per_resource=(appointments, appointments),
        todos_per_resource=(todos, todos),
        service_calls=max(2, users // 2),
    )


def seed(users: int, items: int) -> None:
    """Runs in a child process: the profile's PSA, mailboxes and settings."""
    from engine.demo import create_demo_profile
    from engine.paths import ProfilePaths

    paths = ProfilePaths.for_profile("bench")
    create_demo_profile(paths, date.today(), size=demo_size(users, items))


def serve(pipe: Connection, api: str) -> None:
    """Runs in a child process: the EWS emulator, every mailbox granted, and for Graph its
    front over the same mailboxes; answers 'stats' with the requests of the API in use."""
    from engine.demo import DEMO_CLIENT_ID, DEMO_TENANT_ID
    from engine.exchange.connect import service_secret
    from engine.paths import ProfilePaths
    from engine.profile import Profile
    from engine.sandbox.ews import EwsEmulator
    from engine.sandbox.graph import GraphEmulator

    profile = Profile(ProfilePaths.for_profile("bench"))
    settings = profile.settings
    secret = service_secret(settings, profile.paths)
    emulator = EwsEmulator(
        db_path=profile.paths.sandbox_db,
        service_account=(settings.exchange.general.sync_account, secret),
    )
    for address, _ in emulator.mailboxes():
        emulator.grant(address)
    urls = {"ews_url": emulator.start()}
    stats = emulator.stats
    graph = None
    if api == "graph":
        graph = GraphEmulator(emulator.store, DEMO_TENANT_ID, DEMO_CLIENT_ID, secret)
        urls |= {"graph_url": graph.start(), "token_url": graph.token_url}
        stats = graph.stats
    pipe.send(urls)
    while (command := pipe.recv()) != "stop":
        if command == "stats":
            pipe.send(stats.snapshot())
    if graph is not None:
        graph.stop()
    emulator.stop()


class Emulator:
    """The emulator process, and its request counter read across the pipe."""

    def __init__(self, api: str) -> None:
        self.pipe, child = multiprocessing.Pipe()
        self.process = multiprocessing.Process(target=serve, args=(child, api), daemon=True)
        self.process.start()
        self.urls: dict[str, str] = self.pipe.recv()

    def requests(self) -> int:
        self.pipe.send("stats")
        return int(self.pipe.recv()["total"])

    def stop(self) -> None:
        self.pipe.send("stop")
        self.process.join(timeout=30)


def measure(emulator: Emulator, work: Callable[[], int]) -> dict[str, float | int]:
    """Wall time, this process's CPU time and the EWS or Graph requests of ``work``."""
    requests_before = emulator.requests()
    wall, cpu = time.perf_counter(), time.process_time()
    items = work()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "requests": emulator.requests() - requests_before,
        "items": items,
        "items_per_s": round(items / wall, 1) if wall else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--items", type=int, default=100, help="PSA records per user")
    parser.add_argument("--workers", type=int, default=8, help="mailboxes synced at once")
    parser.add_argument("--api", choices=("ews", "graph", "both"), default="both")
    args = parser.parse_args()

    apis = ("ews", "graph") if args.api == "both" else (args.api,)
    reports = {api: one_api(args, api) for api in apis}
    reports["requests_per_user"] = {
        api: {
            phase: round(reports[api][phase]["requests"] / reports[api]["users"], 2)
            for phase in ("initial", "incremental", "next_day")
        }
        for api in apis
    }
    print(json.dumps(reports, indent=2))


def one_api(args: argparse.Namespace, api: str) -> dict[str, object]:
    """Seed a fresh profile, serve its mailboxes, measure the runs over one mailbox API."""
    with tempfile.TemporaryDirectory(prefix="msext-bench-") as scratch:
        for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
            os.environ[name] = str(Path(scratch) / name.lower())
        started = time.perf_counter()
        seeder = multiprocessing.Process(target=seed, args=(args.users, args.items))
        seeder.start()
        seeder.join()
        seed_s = time.perf_counter() - started
        emulator = Emulator(api)
        try:
            report = run(args, emulator, api)
        finally:
            emulator.stop()
        report["seed_s"] = round(seed_s, 1)
        return report


def use_api(store, urls: dict[str, str], api: str) -> None:
    """Point the profile at the served emulator (Graph: the demo app registration)."""
    from engine.demo import DEMO_CLIENT_ID, DEMO_TENANT_ID

    store.set_value("exchange.general.ews_url", urls["ews_url"])
    store.set_value("sandbox.enabled", "false")
    if api != "graph":
        return
    for key, value in (
        ("server_type", "office365"),
        ("oauth_tenant_id", DEMO_TENANT_ID),
        ("oauth_client_id", DEMO_CLIENT_ID),
        ("oauth_token_url", urls["token_url"]),
        ("graph_url", urls["graph_url"]),
        ("mailbox_api", "graph"),
    ):
        store.set_value(f"exchange.general.{key}", value)


def run(args: argparse.Namespace, emulator: Emulator, api: str) -> dict[str, object]:
    from engine.exchange.runner import RunFinished, RunResult, utc_now
    from engine.exchange.sync import select_users, sync
    from engine.paths import ProfilePaths
    from engine.profile import Profile

    paths = ProfilePaths.for_profile("bench")
    store = Profile(paths).store
    use_api(store, emulator.urls, api)
    store.set_value("exchange.sync.workers", str(min(args.workers, 10)))

    profile = Profile(paths)
    users = select_users(profile, ())
    folders = 3 if profile.settings.exchange.sync.todo_folder == "tasks" else 2
    results: list[RunResult] = []

    def one_run(clock: Callable[[], datetime] = utc_now) -> int:
        for event in sync(profile, users, trigger="bench", clock=clock):
            if isinstance(event, RunFinished):
                results.append(event.result)
                totals = event.result.totals
                return totals["created"] + totals["updated"] + totals["deleted"]
        raise RuntimeError("the run did not finish")

    psa_before = profile.psa.queries
    initial = measure(emulator, one_run)
    initial["psa_queries"] = profile.psa.queries - psa_before
    mapped = sum(profile.state.link_count(user.id) for user in users)

    psa_before = profile.psa.queries
    incremental = measure(emulator, lambda: (one_run(), mapped)[1])
    incremental["psa_queries"] = profile.psa.queries - psa_before
    incremental["changes"] = sum(results[-1].totals[k] for k in ("created", "updated", "deleted"))
    incremental["users_per_s"] = round(len(users) / incremental["wall_s"], 1)

    tomorrow = utc_now() + timedelta(days=1)
    next_day = measure(emulator, lambda: (one_run(lambda: tomorrow), mapped)[1])
    next_day["changes"] = sum(results[-1].totals[k] for k in ("created", "updated", "deleted"))
    phases = {"initial": initial, "incremental": incremental, "next_day": next_day}
    if api == "ews":
        phases["naive_incremental"] = measure(
            emulator, lambda: naive_cycle(profile, users, folders, args.workers)
        )
    profile.close()

    for figures in phases.values():
        figures["requests_per_user_per_folder"] = round(
            figures["requests"] / (len(users) * folders), 2
        )
    peak_rss_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    report: dict[str, object] = {
        "api": api,
        "users": len(users),
        "items_per_user": args.items,
        "folders_per_user": folders,
        "mailbox_items": mapped,
        "workers": args.workers,
        **phases,
        "peak_rss_mb": peak_rss_mb,
    }
    if "naive_incremental" in phases:
        ratio = phases["naive_incremental"]["requests"] / max(incremental["requests"], 1)
        report["request_ratio_naive_over_incremental"] = round(ratio, 1)
    report["targets"] = targets(report, args)
    return report


def impersonating(profile, max_connections: int = 4):
    """An exchangelib configuration of the synchronization account, for reaching users'
    mailboxes as a client of our own would (not through the engine)."""
    from exchangelib import BASIC, Configuration, Credentials, Version
    from exchangelib.version import EXCHANGE_2016

    from engine.exchange.connect import service_secret

    settings = profile.settings
    return Configuration(
        service_endpoint=settings.exchange.general.ews_url,
        credentials=Credentials(
            settings.exchange.general.sync_account, service_secret(settings, profile.paths)
        ),
        auth_type=BASIC,
        version=Version(build=EXCHANGE_2016),
        max_connections=max_connections,
    )


def mailbox(profile, config, user):
    """One user's mailbox through ``config``, by impersonation."""
    from exchangelib import IMPERSONATION, Account

    return Account(
        profile.mailbox_address(user), config=config, autodiscover=False, access_type=IMPERSONATION
    )


def naive_cycle(profile, users, folders: int, workers: int) -> int:
    """FindItem over every synced folder of every user, then GetItem of every item found."""
    config = impersonating(profile, max_connections=workers)

    def one_user(user) -> int:
        account = mailbox(profile, config, user)
        chosen = [account.calendar, account.contacts, account.tasks][:folders]
        fetched = 0
        for folder in chosen:
            ids = list(folder.all().only("id", "changekey"))
            fetched += sum(1 for _ in account.fetch(ids=ids))
        return fetched

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return sum(pool.map(one_user, users))


def targets(report: dict, args: argparse.Namespace) -> dict[str, dict[str, object]]:
    """Each target with the measured value and whether this run met it."""
    incremental = report["incremental"]
    checks = {
        "incremental_requests_per_user_per_folder_max": (
            incremental["requests_per_user_per_folder"],
            lambda value, limit: value <= limit,
        ),
        "incremental_users_per_s_min": (
            incremental["users_per_s"],
            lambda value, limit: value >= limit,
        ),
    }
    if "request_ratio_naive_over_incremental" in report:
        checks["request_ratio_naive_over_incremental_min"] = (
            report["request_ratio_naive_over_incremental"],
            lambda value, limit: value >= limit,
        )
    if args.users >= 1000 and args.items >= 100:
        checks["peak_rss_mb_max_for_1000x100"] = (
            report["peak_rss_mb"],
            lambda value, limit: value <= limit,
        )
    return {
        name: {"value": value, "target": TARGETS[name], "met": bool(test(value, TARGETS[name]))}
        for name, (value, test) in checks.items()
    }


if __name__ == "__main__":
    main()
