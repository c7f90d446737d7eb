"""How many of the EWS emulator's answers break the official schema over two demo syncs.

    python -m tests.ews_schema.measure

Seeds the demo profile in a temporary directory (its seeding already talks EWS), runs two
syncs of every user as ``msext sync --once`` does, and prints one JSON object: per phase,
the SOAP messages judged (requests and answers) and the invalid ones, grouped by element
and the schema's first complaint.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections import Counter
from datetime import date
from pathlib import Path

from tests.ews_schema import Invalid, SchemaWatch


def _phase(watch: SchemaWatch, judged_before: int) -> dict[str, object]:
    invalid = watch.take()
    kinds: Counter[str] = Counter(_kind(found) for found in invalid)
    return {
        "messages_judged": watch.judged - judged_before,
        "invalid": len(invalid),
        "invalid_requests": sum(found.direction == "request" for found in invalid),
        "invalid_responses": sum(found.direction == "response" for found in invalid),
        "kinds": dict(kinds.most_common()),
    }


def _kind(found: Invalid) -> str:
    return f"{found.direction} {found.element}: {found.errors[0].split(':', 1)[-1][:160]}"


def main() -> None:
    with tempfile.TemporaryDirectory() as home:
        for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
            os.environ[name] = str(Path(home) / name.lower())
        from engine.demo import create_demo_profile
        from engine.exchange.runner import RunFinished
        from engine.exchange.sync import select_users, sync
        from engine.paths import ProfilePaths
        from engine.profile import Profile
        from engine.sandbox.ews.server import observing

        watch = SchemaWatch()
        report: dict[str, object] = {}
        with observing(watch):
            judged = watch.judged
            create_demo_profile(ProfilePaths.for_profile("demo"), today=date.today())
            report["seed"] = _phase(watch, judged)
            for run in ("first_sync", "second_sync"):
                judged = watch.judged
                profile = Profile(ProfilePaths.for_profile("demo"))
                try:
                    events = sync(profile, select_users(profile))
                    finished = [event for event in events if isinstance(event, RunFinished)]
                    report[run] = _phase(watch, judged) | {"totals": finished[0].result.totals}
                finally:
                    profile.close()
        json.dump(report, sys.stdout, indent=2)
        print()


if __name__ == "__main__":
    main()
