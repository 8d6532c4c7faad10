"""Real `dataplatform catch-up` processes: SIGKILL anywhere, a full disk and a second writer.

In one home, successive catch-ups are SIGKILLed at named points (during an ingest, between a
partition's upload and its registration, between a stream range and its rejects, during dbt's
build), each starting from what the previous one left; then one runs out of disk (a file-size
limit) and says so in one line; then one runs to the end while a second, started beside it with
`--wait 0`, exits 75 naming its pid and a third waits for it and finds nothing left to do; then
a read-only warehouse fails the refresh in one line, and a backfill heals it without counting
any line twice.
Afterwards the marts equal a plain-Python computation over the delivered files, every stream
record is in the raw ranges exactly once, no run is left STARTED, and no scratch folder, dbt
target folder or held lock remains.
"""

from __future__ import annotations

import fcntl
import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from test_cloudfront_end_to_end import assert_marts_match

from dataplatform.settings import DBT_PROJECT_DIR

BIN = Path(sys.executable).parent
KILL_POINTS = (
    "raw.during_ingest",
    "raw.between_publish_and_registration",
    "stream.between_range_and_rejects",
    "dbt.during_build",
)


def env_for(home: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "DATAPLATFORM_KILL_AT")}
    return {**env, "DATAPLATFORM_HOME": str(home), "DATAPLATFORM_ENV": "local", **extra}


def dataplatform(home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "dataplatform"), *args], env=env_for(home, **extra), capture_output=True,
                          text=True, timeout=900)


def deliver(home: Path) -> None:
    for args in (
        ("sample", "cloudfront", "--start", "2026-11-24T00", "--hours", "3", "--lines", "3000", "--quiet"),
        ("produce", "cloudfront-realtime", "--start", "2026-11-24T00:00:00+00:00", "--seconds", "120", "--rate", "20", "--quiet"),
    ):
        assert dataplatform(home, *args).returncode == 0


def stream_records_once(home: Path) -> None:
    """Every record of the stream is in exactly one raw range row or reject (independently:
    the stream's own SQLite store against the lake's Parquet files)."""
    with sqlite3.connect(home / "streams.sqlite") as con:
        produced = {(shard, f"{seq:021d}") for shard, seq in con.execute(
            "select shard_id, sequence from records where stream = 'cloudfront_realtime'")}
    lake = home / "lake" / "raw" / "cloudfront"
    with duckdb.connect() as con:
        loaded = con.execute(
            f"select shard_id, sequence_number from read_parquet('{lake}/realtime_records/**/*.parquet') union all "
            f"select shard_id, sequence_number from read_parquet('{lake}/realtime_records_rejects/**/*.parquet')"
        ).fetchall()
    assert len(loaded) == len(set(loaded)) and set(loaded) == produced and produced


def lock_held(path: Path) -> bool:
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def wait_for(predicate, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def dbt_manifest() -> dict:
    return json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text())


def dbt_models_of(domain: str) -> set[str]:
    """Names of the models under models/<domain>/, from dbt's manifest."""
    return {node["name"] for node in dbt_manifest()["nodes"].values()
            if node["resource_type"] == "model" and node["fqn"][1] == domain}


def dbt_descendants(unique_id: str) -> set[str]:
    """Names of the models downstream of a node, from dbt's manifest (its child map)."""
    manifest = dbt_manifest()
    found, todo = set(), [unique_id]
    while todo:
        for child in manifest["child_map"][todo.pop()]:
            if child.startswith("model.") and child not in found:
                found.add(child)
                todo.append(child)
    return {manifest["nodes"][child]["name"] for child in found}


def dbt_target_folders() -> set[str]:
    return {p.name for p in (DBT_PROJECT_DIR / "target").glob("dbt_*-*")}


@pytest.mark.slow
def test_a_catch_up_killed_anywhere_or_out_of_disk_is_healed_by_the_next(tmp_path):
    home = tmp_path / "home"
    deliver(home)
    targets_before = dbt_target_folders()
    for point in KILL_POINTS:
        killed = dataplatform(home, "catch-up", DATAPLATFORM_KILL_AT=point)
        assert killed.returncode == -signal.SIGKILL, f"{point}: not reached ({killed.returncode})\n{killed.stdout[-2000:]}"

    # A full disk: RLIMIT_FSIZE fails every write past 600 kB with EFBIG, as a full disk fails
    # them with ENOSPC (Python ignores SIGXFSZ). Whichever file hits it first, one line.
    limit = lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (600_000, 600_000))  # noqa: E731
    full = subprocess.run([str(BIN / "dataplatform"), "catch-up"], env=env_for(home), capture_output=True, text=True,
                          timeout=900, preexec_fn=limit)
    assert full.returncode == 1, full.stdout + full.stderr
    [line] = full.stderr.strip().splitlines()
    assert line.startswith("dataplatform: ") and ("File too large" in line or "cannot write" in line), line
    assert "run the command again" in line

    # The healing catch-up, with two more beside it: one that will not wait, one that does.
    healing = subprocess.Popen([str(BIN / "dataplatform"), "catch-up"], env=env_for(home), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    wait_for(lambda: lock_held(home / "catch-up.lock"), "the healing catch-up's lock")
    busy = dataplatform(home, "catch-up", "--wait", "0")
    assert busy.returncode == 75, busy.stderr
    assert busy.stderr.strip() == (f"dataplatform: another catch-up is running (pid {healing.pid}); "
                                   "try again when it has finished")
    waiting = subprocess.Popen([str(BIN / "dataplatform"), "catch-up"], env=env_for(home), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    out, err = healing.communicate(timeout=900)
    assert healing.returncode == 0, out + err
    assert "marked failed" in out  # the killed runs, named, not left STARTED
    out2, err2 = waiting.communicate(timeout=900)
    assert waiting.returncode == 0, out2 + err2
    assert f"another catch-up is running (pid {healing.pid}): waiting" in out2
    assert "catch-up: 0 runs" in out2  # nothing stale is left, nothing was done twice
    assert "Traceback" not in err + err2

    assert_marts_match(home)  # every line of every delivered file, per plain Python
    stream_records_once(home)
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        unfinished = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING]))
        assert unfinished == []
    assert list((home / "scratch").iterdir()) == []
    assert dbt_target_folders() == targets_before
    assert not lock_held(home / "catch-up.lock")

    # A read-only warehouse (an immutable file: root ignores permission bits) when a new hour
    # lands: the hour is loaded, the refresh fails at once in one line naming the file.
    sample = ("sample", "cloudfront", "--start", "2026-11-24T03", "--hours", "1", "--lines", "500", "--quiet")
    assert dataplatform(home, *sample).returncode == 0
    warehouse = home / "warehouse.duckdb"
    subprocess.run(["chattr", "+i", str(warehouse)], check=True)
    try:
        readonly = dataplatform(home, "catch-up")
    finally:
        subprocess.run(["chattr", "-i", str(warehouse)], check=True)
    assert readonly.returncode == 1, readonly.stdout + readonly.stderr
    [failure] = [line for line in readonly.stdout.splitlines() if line.startswith("failed run")]
    assert failure.endswith(f"dbt_models: PermissionError: [Errno 1] Operation not permitted: '{warehouse}'"), failure
    assert "Traceback" not in readonly.stdout + readonly.stderr

    # Writable again: a backfill of two hours processes them again and, with the level-triggered
    # refresh, brings the marts up to every delivered line, none counted twice.
    backfill = dataplatform(home, "backfill", "cloudfront", "--from", "2026-11-24T00", "--to", "2026-11-24T01")
    assert backfill.returncode == 0, backfill.stdout + backfill.stderr
    said = " ".join(backfill.stdout.split())  # the console wraps long lines
    assert "2 processed hours from 2026-11-24 00:00 to 2026-11-24 01:00 will be processed again" in said
    assert " over 2 partitions" in said
    assert_marts_match(home)

    # That refresh built every model downstream of the CloudFront access logs in dbt's own graph,
    # and no other domain's model (VPC, clinical) was run or tested.
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        [refresh] = instance.get_runs(filters=dg.RunsFilter(tags={"dataplatform/writer": "automation"}), limit=1)
    built = {key.path[-1] for key in refresh.asset_selection if key.path[0] in ("staging", "intermediate", "marts")}
    assert dbt_descendants("source.dataplatform.raw_cloudfront.access_logs") <= built
    assert built <= dbt_models_of("cloudfront"), built - dbt_models_of("cloudfront")
