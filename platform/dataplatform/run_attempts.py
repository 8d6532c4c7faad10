"""Run keys for work that must eventually succeed: the first attempt is `<base>`, a retry after
a failed (or ineffective) attempt `<base>#n`. Dagster's daemon never launches a run key twice,
so a sensor that asked again under the same key after a failure would be ignored forever."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import dagster as dg

RUN_KEY_TAG = "dagster/run_key"
DONE, FAILED, RUNNING = "done", "failed", "running"

# A run in one of these states may still write (or is queued to).
UNFINISHED = [
    dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING,
]

RunState = Callable[[str], tuple[str, datetime | None] | None]


def next_run_key(base: str, now: datetime, wait_after_end: timedelta, run_state: RunState) -> tuple[str | None, str]:
    """(run key to request, "") or (None, why to wait): a running attempt is waited for, one that
    ended less than `wait_after_end` ago too; a failed (or ineffective) one is retried as `#n`."""
    attempt = 1
    while True:
        run_key = base if attempt == 1 else f"{base}#{attempt}"
        state = run_state(run_key)
        if state is None:
            return run_key, ""
        outcome, ended = state
        if outcome == RUNNING:
            return None, f"run {run_key} is in progress"
        if ended is not None and now - ended < wait_after_end:
            return None, f"run {run_key} {outcome} at {ended.isoformat()}; retrying next tick"
        attempt += 1  # failed, or succeeded without the effect it was for: try again


def run_state(instance: dg.DagsterInstance, run_key: str) -> tuple[str, datetime | None] | None:
    """The latest run with `run_key`: (DONE | FAILED | RUNNING, when it ended) or None."""
    records = instance.get_run_records(filters=dg.RunsFilter(tags={RUN_KEY_TAG: run_key}), limit=1)
    if not records:
        return None
    record = records[0]
    status = record.dagster_run.status
    ended = datetime.fromtimestamp(record.end_time, timezone.utc) if record.end_time else None
    if status == dg.DagsterRunStatus.SUCCESS:
        return DONE, ended
    if status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED):
        return FAILED, ended
    return RUNNING, None
