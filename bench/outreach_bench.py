#!/usr/bin/env python
"""Outreach benchmark (issue 15): one responses delivery of ~5M attribute/value rows through the
load (sha256 check, parse, cleansing, question mapping, keyed tokens, the pre-publish leak scan,
Parquet) and the per-questionnaire pivot, next to DuckDB computing plain SHA-256 of the member
ids and the same pivot on the same files, in the same run.

    python bench/outreach_bench.py [--rows 5000000] [--repeats 2]

Inputs: `assets.outreach.sample` (seed 7) with enough outreaches for --rows answer rows (about 3.5
per outreach; 60 % of outreaches in a gzip CSV, the rest in JSON lines, as delivered), generated
once into bench/results/outreach-<rows>/ and reused.

- pipeline: `read_delivery` + `transform` + `write` + `leaked` (the functions the load asset
  runs: every output written as zstd Parquet and the curated files scanned), then the pivot of every questionnaire over that
  Parquet (one column per catalogue question, as the generated marts do: the response code,
  multi-select answers joined with '|').
- reference: DuckDB reads the same CSV and JSON files (`read_csv`, `read_json`), computes
  `sha256(member_id)` and the same pivot keyed by it (no cleansing, no mapping, no checks).
Each side runs in its own child process (`--repeats` times, best wall time kept); peak RSS from
the kernel's rusage of the child. Writes bench/results/outreach.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DAY = date(2026, 12, 6)
ROWS_PER_OUTREACH = 3.5


def generate(rows: int) -> Path:
    from assets.outreach import sample
    from dataplatform.resources.lake import LocalObjectStore

    root = RESULTS / f"outreach-{rows}"
    marker = root / "done"
    if not marker.exists():
        started = time.perf_counter()
        outreaches = int(rows / ROWS_PER_OUTREACH)
        sample.generate(LocalObjectStore(root), sample.SampleSpec(members=max(10, outreaches // 5), outreaches=outreaches, day=DAY))
        marker.write_text("ok")
        print(f"generated {outreaches:,} outreaches in {time.perf_counter() - started:.0f} s under {root}")
    return root


def _pivot_sql(source: str, member: str) -> str:
    """One row per outreach and questionnaire; a column per catalogue question."""
    from assets.outreach.rules import rules

    columns = []
    for questionnaire, ids in rules().questionnaires().items():
        for question_id in ids:
            columns.append(f"string_agg(DISTINCT response_code, '|' ORDER BY response_code) "
                           f"FILTER (WHERE question_id = '{question_id}') AS {questionnaire}__{question_id}")
    return (f"SELECT outreach_id, {member} AS member, questionnaire, {', '.join(columns)} FROM {source} "
            f"GROUP BY outreach_id, {member}, questionnaire")


def pipeline(root: Path) -> dict:
    from assets.outreach import load
    from assets.outreach.deliveries import ZONE, delivery
    from assets.outreach.rules import rules
    import duckdb

    from dataplatform.resources.lake import LocalObjectStore

    lake, ruleset = LocalObjectStore(root), rules()
    feed = ruleset.feed("responses")
    prefix = f"{ZONE.prefix}responses/{DAY}-r01/"
    found = delivery(lake, feed, f"{DAY}-r01", list(lake.list(ZONE.bucket, prefix)), datetime.now(timezone.utc))
    assert found.complete, found.problems
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, lake.localized(ZONE.bucket, [f.key for f in found.files]) as paths:
        con = load.open_engine(Path(tmp))
        files = load.read_delivery(con, found, paths, feed)
        loaded = load.transform(con, found, feed, ruleset, b"k" * 32, b"d" * 32, "bench", files, Path(tmp))
        load.write(con, feed, loaded)
        hits = load.leaked(con, feed, loaded)
        assert not hits, hits
        con.close()
        # The pivot runs where dbt runs it: another DuckDB connection with its default settings.
        pivot = _pivot_sql(f"read_parquet('{loaded.paths['curated']}')", "member_token")
        pivoted = duckdb.connect().execute(f"SELECT count(*) FROM ({pivot})").fetchall()[0][0]
    return {"seconds": time.perf_counter() - started, "rows": sum(f["records"] for f in files.values()),
            "curated": loaded.rows["curated"], "pivot_rows": pivoted}


def reference(root: Path) -> dict:
    import duckdb

    folder = root / "landing" / "outreach" / "responses" / f"{DAY}-r01"
    csv_files = [str(p) for p in folder.glob("*.csv.gz")]
    json_files = [str(p) for p in folder.glob("*.jsonl")]
    started = time.perf_counter()
    con = duckdb.connect()
    fields = "outreach_id, member_id, campaign, question_code, response"
    con.execute(f"""CREATE TABLE answers AS
        SELECT {fields} FROM read_csv({csv_files}, header = true, all_varchar = true, ignore_errors = true)
        UNION ALL SELECT {fields} FROM read_json({json_files}, format = 'newline_delimited', ignore_errors = true,
                                                 columns = {{outreach_id: 'VARCHAR', member_id: 'VARCHAR', campaign: 'VARCHAR',
                                                            question_code: 'VARCHAR', response: 'VARCHAR'}})""")
    rows = con.execute("SELECT count(*) FROM answers").fetchall()[0][0]
    # The same shape of pivot, keyed by a plain hash; question codes stand in for catalogue ids.
    source = ("(SELECT outreach_id, sha256(member_id) AS member_hash, campaign AS questionnaire, "
              "question_code AS question_id, response AS response_code FROM answers)")
    from assets.outreach.rules import rules

    columns = [f"string_agg(DISTINCT response_code, '|' ORDER BY response_code) FILTER (WHERE question_id = '{code}') AS c_{code}"
               for q in rules().questions for code in q.source_codes]
    pivoted = con.execute(f"SELECT count(*) FROM (SELECT outreach_id, member_hash, questionnaire, {', '.join(dict.fromkeys(columns))} "
                          f"FROM {source} GROUP BY ALL)").fetchall()[0][0]
    con.close()
    return {"seconds": time.perf_counter() - started, "rows": rows, "pivot_rows": pivoted}


def measured(name: str, root: Path) -> dict:
    """Run `name` in a child; its result plus the child's peak RSS."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        result = globals()[name](root)
        os.write(write, json.dumps(result).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as handle:
        data = handle.read()
    _, status, usage = os.wait4(pid, 0)
    if status:
        raise SystemExit(f"{name} failed (status {status})")
    return {**json.loads(data), "peak_rss_mb": usage.ru_maxrss / 1024, "cpu_seconds": usage.ru_utime + usage.ru_stime}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    root = generate(args.rows)
    runs = {"pipeline": [], "reference": []}
    for _ in range(args.repeats):
        for name in ("reference", "pipeline"):
            runs[name].append(measured(name, root))
            print(f"{name}: {runs[name][-1]}", flush=True)
    best = {name: min(results, key=lambda r: r["seconds"]) for name, results in runs.items()}
    ratio = best["pipeline"]["seconds"] / best["reference"]["seconds"]
    # Each round runs both sides back to back: the median of the rounds' ratios shows what noise
    # on this shared machine does to the best-of ratio.
    rounds = sorted(p["seconds"] / r["seconds"] for p, r in zip(runs["pipeline"], runs["reference"]))
    summary = {
        "rows": best["pipeline"]["rows"], "pipeline_s": round(best["pipeline"]["seconds"], 2),
        "reference_s": round(best["reference"]["seconds"], 2), "ratio": round(ratio, 2),
        "median_round_ratio": round(rounds[len(rounds) // 2], 2),
        "pipeline_rows_per_s": round(best["pipeline"]["rows"] / best["pipeline"]["seconds"]),
        "reference_rows_per_s": round(best["reference"]["rows"] / best["reference"]["seconds"]),
        "pipeline_peak_rss_mb": round(best["pipeline"]["peak_rss_mb"]), "reference_peak_rss_mb": round(best["reference"]["peak_rss_mb"]),
        "load_average": os.getloadavg()[0], "runs": runs,
    }
    (RESULTS / "outreach.json").write_text(json.dumps(summary, indent=2))
    print(f"\n{'':12}{'seconds':>10}{'rows/s':>12}{'peak MB':>10}")
    for name in ("pipeline", "reference"):
        b = best[name]
        print(f"{name:12}{b['seconds']:>10.2f}{b['rows'] / b['seconds']:>12,.0f}{b['peak_rss_mb']:>10,.0f}")
    print(f"ratio pipeline / reference: {ratio:.2f} (target <= 2); rounds: {', '.join(f'{r:.2f}' for r in rounds)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
