"""Landing files -> sensor -> raw -> dbt marts, compared with an independent computation.

The expectation is computed here from the gz files with Python's gzip and str.split — not
DuckDB, not the platform's parser — so a bug in either side shows up as a difference.
"""

from __future__ import annotations

import gzip
import zlib
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import unquote

import dagster as dg
import duckdb
import pyarrow.parquet as pq
import pytest

from assets.cloudfront import sample
from assets.cloudfront.user_agents import classify
from dataplatform import settings
from dataplatform.catchup import catch_up
from dataplatform.resources.lake import LocalObjectStore

START = datetime(2026, 11, 24, tzinfo=timezone.utc)
HIT = {"Hit", "RefreshHit"}


def decode_until_stable(text: str) -> str:
    while (decoded := unquote(text)) != text:
        text = decoded
    return text


def independent_records(landing: Path) -> tuple[list[dict], int]:
    """Every parsable record of every readable file, and the number of data lines read."""
    records, lines_read = [], 0
    for path in sorted(landing.rglob("*.gz")):
        try:
            text = gzip.decompress(path.read_bytes()).decode()
        except (OSError, EOFError, zlib.error):
            continue  # unreadable files are quarantined, not loaded
        lines = text.splitlines()
        fields = next(line for line in lines if line.startswith("#Fields:")).split()[1:]
        distribution = path.name.split(".")[0]
        for line in lines:
            if line.startswith("#"):
                continue
            lines_read += 1
            values = dict(zip(fields, line.split("\t")))
            try:
                when = datetime.strptime(f"{values['date']} {values['time']}", "%Y-%m-%d %H:%M:%S")
                sc_bytes = int(values["sc-bytes"])
            except (KeyError, ValueError):
                continue  # a reject
            agent = values.get("cs(User-Agent)", "-")
            records.append(
                {
                    "hour": when.replace(minute=0, second=0),
                    "date": when.date(),
                    "distribution": distribution,
                    "edge": values["x-edge-location"],
                    "ip": values["c-ip"],
                    "bytes": sc_bytes,
                    "result": values.get("x-edge-result-type"),
                    "agent": None if agent == "-" else decode_until_stable(agent),
                }
            )
    return records, lines_read


def expected_marts(records: list[dict]) -> dict[str, set[tuple]]:
    bots = {agent: classify(agent) for agent in {r["agent"] for r in records if r["agent"]}}
    is_bot = lambda r: bool(r["agent"]) and bots[r["agent"]]["is_bot"]  # noqa: E731

    edge = defaultdict(lambda: [0, 0, 0])
    bot = defaultdict(lambda: [0, 0])
    viewer = defaultdict(lambda: [0, 0, 0])
    for r in records:
        e = edge[(r["hour"], r["distribution"], r["edge"])]
        e[0] += 1
        e[1] += r["bytes"]
        e[2] += r["result"] in HIT
        if is_bot(r):
            b = bot[(r["hour"], r["distribution"], bots[r["agent"]]["bot_name"] or "unknown bot")]
            b[0] += 1
            b[1] += r["bytes"]
        v = viewer[(r["date"], r["distribution"], r["ip"])]
        v[0] += 1
        v[1] += r["bytes"]
        v[2] += is_bot(r)

    top = set()
    by_day = defaultdict(list)
    for (day, dist, ip), (n, b, bot_n) in viewer.items():
        by_day[(day, dist)].append((-b, ip, n, bot_n))
    for (day, dist), rows in by_day.items():
        for rank, (neg_bytes, ip, n, bot_n) in enumerate(sorted(rows)[:50], start=1):
            top.add((day, dist, rank, ip, n, -neg_bytes, bot_n * 2 > n))
    return {
        "cloudfront_bandwidth_by_edge": {
            (h, d, e, n, b, round(b * 8 / 3600, 6), round(hits / n, 6)) for (h, d, e), (n, b, hits) in edge.items()
        },
        "cloudfront_bot_traffic": {(h, d, name, n, b) for (h, d, name), (n, b) in bot.items()},
        "cloudfront_top_viewers": top,
    }


def actual_marts(warehouse: Path) -> dict[str, set[tuple]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {
            "cloudfront_bandwidth_by_edge": set(
                con.execute(
                    "select request_hour, distribution_id, edge_location, requests, bytes_sent, "
                    "round(avg_bandwidth_bps, 6), round(cache_hit_ratio, 6) from marts.cloudfront_bandwidth_by_edge"
                ).fetchall()
            ),
            "cloudfront_bot_traffic": set(
                con.execute(
                    "select request_hour, distribution_id, bot_name, requests, bytes_sent from marts.cloudfront_bot_traffic"
                ).fetchall()
            ),
            "cloudfront_top_viewers": set(
                con.execute(
                    "select request_date, distribution_id, viewer_rank, client_ip, requests, bytes_sent, is_bot "
                    "from marts.cloudfront_top_viewers"
                ).fetchall()
            ),
        }


def assert_marts_match(home: Path) -> None:
    records, _ = independent_records(home / "lake" / "landing" / "cloudfront")
    expected, actual = expected_marts(records), actual_marts(home / "warehouse.duckdb")
    for mart in expected:
        assert actual[mart] == expected[mart], (
            f"{mart}: {len(actual[mart] - expected[mart])} unexpected rows, e.g. {sorted(actual[mart] - expected[mart])[:3]}; "
            f"{len(expected[mart] - actual[mart])} missing, e.g. {sorted(expected[mart] - actual[mart])[:3]}"
        )


@pytest.fixture
def platform(home):
    from dataplatform.definitions import build_definitions

    defs = build_definitions()
    with dg.instance_for_test() as instance:
        yield defs, instance, lambda: catch_up(defs, instance)


@pytest.mark.slow
def test_marts_equal_an_independent_computation_through_late_duplicate_and_bad_deliveries(home, platform):
    defs, instance, run_catch_up = platform
    lake = LocalObjectStore(settings.lake_root())
    sample.generate(lake, sample.SampleSpec(start=START, hours=6, lines=6000, distributions=2, files_per_hour=2, seed=11))

    # A day's worth of hours is one sensor run over the hour range, then one dbt invocation.
    first = run_catch_up()
    assert first.failed_runs == []
    # Runs: the hour range, the refresh (with the reference seeds), and the RPO sensor's first
    # snapshot of each warehouse once it exists.
    assert (first.runs, first.partitions, first.dbt_invocations) == (4, 6, 1)
    assert_marts_match(home)

    # Every line is accounted for: rows in the raw partitions + rejected lines = lines read.
    records, lines_read = independent_records(home / "lake" / "landing")
    raw = home / "lake" / "raw" / "cloudfront"
    rows = sum(pq.ParquetFile(p).metadata.num_rows for p in (raw / "access_logs").rglob("*.parquet"))
    assert rows == len(records) == lines_read == 6000

    # A late file for hour 1 re-materialises that hour and everything downstream.
    late_hour = START + timedelta(hours=1)
    donor = next(p for p in sorted((home / "lake" / "landing").rglob("*.gz")) if f"{late_hour:%Y-%m-%d-%H}" in p.name)
    distribution = donor.name.split(".")[0]
    late_key = f"cloudfront/{distribution}.{late_hour:%Y-%m-%d-%H}.late0001.gz"
    lake.put("landing", late_key, donor.read_bytes())
    second = run_catch_up()
    assert (second.runs, second.partitions, second.dbt_invocations, second.failed_runs) == (2, 1, 1, [])
    assert_marts_match(home)

    # The same file delivered again, byte for byte: nothing runs, nothing changes.
    before = actual_marts(home / "warehouse.duckdb")
    lake.put("landing", late_key, donor.read_bytes())
    third = run_catch_up()
    assert (third.runs, third.partitions) == (0, 0)
    assert actual_marts(home / "warehouse.duckdb") == before

    # A truncated gzip and a file with malformed lines in hour 2: the bad file is quarantined,
    # bad lines go to rejects with their line number, everything else of the hour still loads.
    bad_hour = START + timedelta(hours=2)
    good = gzip.decompress(donor.read_bytes()).decode().splitlines()
    header, body = good[:2], good[2:5]
    broken_line = "\t".join(["2026-11-24", "02:10:00", "FRA56-P1", "not-a-number", "10.0.0.1"])
    mixed = "\n".join([*header, *body, broken_line, "garbage"]) + "\n"
    mixed_key = f"cloudfront/{distribution}.{bad_hour:%Y-%m-%d-%H}.mixed001.gz"
    truncated_key = f"cloudfront/{distribution}.{bad_hour:%Y-%m-%d-%H}.trunc001.gz"
    lake.put("landing", mixed_key, gzip.compress(mixed.encode(), mtime=0))
    lake.put("landing", truncated_key, gzip.compress(mixed.encode() * 50, mtime=0)[:200])
    fourth = run_catch_up()
    assert (fourth.runs, fourth.partitions, fourth.failed_runs) == (2, 1, [])
    assert_marts_match(home)

    rejects = pq.read_table(raw / "access_log_rejects" / "dt=2026-11-24" / "hour=02").to_pylist()
    by_key = defaultdict(list)
    for row in rejects:
        by_key[row["source_key"]].append(row)
    assert [(r["line_number"], r["raw_line"]) for r in by_key[mixed_key]] == [(6, broken_line), (7, "garbage")]
    assert all(r["reason"] for r in by_key[mixed_key])
    (quarantined,) = by_key[truncated_key]
    assert quarantined["line_number"] is None and "gzip" in quarantined["reason"]
    assert (home / "lake" / "quarantine" / truncated_key).exists()

    # The reconciliation check ran on every materialisation and passed.
    records, lines_read = independent_records(home / "lake" / "landing")
    rows = sum(pq.ParquetFile(p).metadata.num_rows for p in (raw / "access_logs").rglob("*.parquet"))
    assert rows + 2 == lines_read and rows == len(records)
    check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(dg.AssetKey(["raw", "cloudfront", "access_logs"]), "lines_reconcile")]
    )
    evaluation = next(iter(check.values())).event.dagster_event.event_specific_data
    assert evaluation.passed and evaluation.metadata["rejected_lines"].value == 2

    # The summary a user reads says the same: every object processed, 2 lines rejected and 1 file
    # quarantined, and where the reasons are.
    from rich.console import Console

    from dataplatform.summary import print_summary

    console = Console(record=True, width=400)
    print_summary(console)
    objects = len(list((home / "lake" / "landing" / "cloudfront").rglob("*.gz")))
    assert (f"cloudfront landing zone: {objects:,} objects, {objects:,} processed, 0 unprocessed, 0 outside retention, "
            "0 with invalid keys; loading rejected 2 lines and quarantined 1 files") in console.export_text()
