"""Small pictures drawn with text: they fit a table cell and survive NO_COLOR."""

from __future__ import annotations

from collections.abc import Sequence

from engine.humanize import count
from engine.state import RunRecord, UserRun

BARS = "▁▂▃▄▅▆▇█"


def spark(values: Sequence[float]) -> str:
    """One character a value, its height scaled to the largest (a zero stays at the bottom)."""
    top = max(values, default=0)
    if top <= 0:
        return BARS[0] * len(values)
    return "".join(BARS[round(value / top * (len(BARS) - 1))] for value in values)


def changed(run: UserRun | RunRecord) -> int:
    """Items a run changed on either side."""
    return run.created + run.updated + run.deleted + run.imported


def runs_at_a_glance(runs: Sequence[UserRun]) -> str:
    """Recent runs, oldest first, as a sparkline of items changed and the errors there were,
    e.g. '▁▁█▂ 3 err' (nothing when no run has been recorded)."""
    if not runs:
        return ""
    errors = sum(run.errors for run in runs)
    return spark([changed(run) for run in runs]) + (f" {errors} err" if errors else "")


def run_history(runs: Sequence[RunRecord]) -> str:
    """The profile's recent runs, oldest first: items changed, errors and duration each as
    a sparkline, with the newest run's figures in words."""
    if not runs:
        return ""
    seconds = [
        (run.finished_at - run.started_at).total_seconds() if run.finished_at else 0.0
        for run in runs
    ]
    last = runs[-1]
    return (
        f"Last {count(len(runs), 'run')}: changed {spark([changed(run) for run in runs])}"
        f"  errors {spark([run.errors for run in runs])}  time {spark(seconds)}"
        f"  (newest: {changed(last):,} changed, {last.errors} err, {seconds[-1]:.1f} s)"
    )
