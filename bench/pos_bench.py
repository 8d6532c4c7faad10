#!/usr/bin/env python
"""Point-of-sale benchmark (issue 14): the pos_windows sensor's tick as files accumulate, and the
end-to-end load next to DuckDB reading the same files, in the same run.

    python bench/pos_bench.py [--regions 3] [--stores 100] [--days 30] [--deliveries 3] [--e2e]

Inputs: `dataplatform sample pos` for regions x stores (per region) x days x deliveries files
(defaults: 300 stores x 3 deliveries x 30 days = 27,000 small files), generated once.

1. **Tick time vs history.** The files are delivered day by day into one lake; after each day
   the sensor's evaluation (`assets.pos.sensor.evaluate`: listing, registry, key-value arrivals,
   completeness, run keys) is timed twice with the clock after that day's deadline, its requested
   loads marked done: the first tick of a day also reconciles the whole zone with the ledger (every
   15 minutes in the daemon; it lists everything, so it grows with the zone), the second is a plain
   tick. Reported: the median tick of days 6-10 (the open days are all delivered by then)
   and of the last 5, and their ratio (it must not grow with history: a tick lists the open days only).
2. **End to end** (`--e2e`): `dataplatform catch-up` in a fresh home over all the files (every
   window's load as its own run, then the dbt marts), against DuckDB's read of the same files
   (read_csv of the tdf and csv files, read_json of the jsonl files, summed per type): rows/s of
   each and the ratio, and the catch-up's peak RSS.
Writes bench/results/pos.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, time as clock, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def first_day(args) -> date:
    """The days end yesterday: every window is past its deadline, none after the data is."""
    return datetime.now(timezone.utc).date() - timedelta(days=args.days)


def generate(root: Path, args) -> Path:
    from assets.pos import sample
    from dataplatform.resources.lake import LocalObjectStore

    spec = sample.SampleSpec(start=first_day(args), days=args.days, regions=args.regions, stores=args.stores,
                             deliveries_per_day=args.deliveries, seed=11)
    written = sample.generate(LocalObjectStore(root), spec)
    print(f"generated {len(written):,} files under {root}")
    return root / "landing" / "pos"


def tick_times(landing: Path, work: Path, start: date, days: int) -> tuple[list[float], list[float]]:
    from assets.pos.sensor import evaluate
    from dataplatform.resources.kv import SqliteKeyValueStore
    from dataplatform.resources.lake import LocalObjectStore
    from dataplatform.resources.notify import LocalOutbox

    lake = LocalObjectStore(work / "lake")
    kv, outbox = SqliteKeyValueStore(work / "kv.sqlite"), LocalOutbox(work / "outbox")
    done: set[str] = set()
    cursor, times = None, ([], [])  # (reconciling ticks, plain ticks)
    target = work / "lake" / "landing" / "pos"
    for region in landing.iterdir():  # the dated masters first
        for master in ("items", "stores"):
            shutil.copytree(region / master, target / region.name / master)
    for n in range(days):
        day = start + timedelta(days=n)
        for folder in landing.glob(f"*/*/{day}"):
            shutil.copytree(folder, target / folder.relative_to(landing))
        now = datetime.combine(day + timedelta(days=1), clock(7), timezone.utc)  # after the deadline
        for tick, at in enumerate((now, now + timedelta(minutes=1))):  # the first of a day reconciles
            started = time.perf_counter()
            requests, cursor, _, _ = evaluate(lake, kv, outbox, cursor, at, lambda key: ("done", None) if key in done else None)
            times[tick].append(time.perf_counter() - started)
            done |= {r.run_key for r in requests}
    return times


DUCKDB_REFERENCE = """
with t as (
    select column2::int as kind, column1::decimal(18,2) as amount
    from read_csv('{root}/*/*/*/*.tdf', delim='\t', header=false, columns={{'column0':'varchar','column1':'varchar',
         'column2':'varchar','column3':'varchar','column4':'varchar','column5':'varchar','column6':'varchar'}},
         null_padding=true, ignore_errors=true, auto_detect=false)
    where not starts_with(column0, '-') and try_cast(column1 as decimal(18,2)) is not null
    union all
    select TxnType::int, Amount::decimal(18,2) from read_csv('{root}/*/*/*/*.csv', header=true, auto_detect=true)
    union all
    select "type"::int, amount::decimal(18,2) from read_json('{root}/*/*/*/*.jsonl', format='newline_delimited')
)
select count(*), sum(amount) filter (where kind = 4) from t
"""


def duckdb_reference(landing: Path) -> tuple[float, int]:
    code = ("import duckdb, sys, time; t = time.perf_counter(); "
            f"rows = duckdb.connect().execute({DUCKDB_REFERENCE!r}.format(root=sys.argv[1])).fetchone()[0]; "
            "print(time.perf_counter() - t, rows)")
    out = subprocess.run([sys.executable, "-c", code, str(landing)], check=True, capture_output=True, text=True).stdout
    seconds, rows = out.splitlines()[-1].split()
    return float(seconds), int(rows)


def end_to_end(landing: Path, work: Path) -> dict:
    home = work / "e2e-home"
    shutil.copytree(landing, home / "lake" / "landing" / "pos")
    env = {**os.environ, "DATAPLATFORM_HOME": str(home), "DATAPLATFORM_ENV": "local"}
    env.pop("DAGSTER_HOME", None)
    started = time.perf_counter()
    process = subprocess.Popen([str(BIN / "dataplatform"), "catch-up"], env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    assert status == 0, f"catch-up exited {status}"
    import duckdb

    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute("select sum(transactions) from marts.pos_daily_sales").fetchone()[0]
        windows = con.execute("select count(*) from marts.pos_region_daily").fetchone()[0]
    return {"seconds": seconds, "rows": int(rows), "windows": windows, "peak_rss_mb": usage.ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, default=3)
    parser.add_argument("--stores", type=int, default=100, help="per region")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--deliveries", type=int, default=3)
    parser.add_argument("--e2e", action="store_true", help="also time catch-up end to end against DuckDB")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    work = Path(tempfile.mkdtemp(prefix="pos-bench-"))
    try:
        landing = generate(work / "data", args)
        files = sum(1 for _ in landing.glob("*/*/*/*.*"))
        reconciling, plain = tick_times(landing, work / "ticks", first_day(args), args.days)
        result = {"files": files, "tick_seconds": plain, "reconciling_tick_seconds": reconciling}
        # Once the open days (lateness) are all delivered, a tick's work is constant: compare the
        # five days after that with the last five.
        for name, times, target in (("tick", plain, "flat"), ("reconciling tick", reconciling, "grows with the zone")):
            first, last = statistics.median(times[5:10]), statistics.median(times[-5:])
            result[f"{name} days 6-10 / last 5 median s"] = [first, last, last / first]
            print(f"{files:,} delivery files; sensor {name}: days 6-10 median {first:.3f} s, last 5 days {last:.3f} s "
                  f"(x{last / first:.2f}; expected: {target})")
        if args.e2e:
            reference, reference_rows = duckdb_reference(landing)
            e2e = end_to_end(landing, work)
            result |= {"duckdb_seconds": reference, "duckdb_rows": reference_rows, "e2e": e2e,
                       "ratio_e2e_to_duckdb": e2e["seconds"] / reference}
            print(f"end to end: {e2e['rows']:,} transactions in {e2e['seconds']:.1f} s ({e2e['rows'] / e2e['seconds']:,.0f} rows/s, "
                  f"{e2e['windows']} windows, peak {e2e['peak_rss_mb']:.0f} MB); DuckDB read of the same files: "
                  f"{reference_rows:,} rows in {reference:.2f} s ({reference_rows / reference:,.0f} rows/s); "
                  f"ratio {e2e['seconds'] / reference:.1f}x")
        out = ROOT / "bench" / "results"
        out.mkdir(parents=True, exist_ok=True)
        (out / "pos.json").write_text(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
