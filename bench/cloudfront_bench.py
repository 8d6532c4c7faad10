#!/usr/bin/env python
"""CloudFront ingest benchmark: every figure next to a DuckDB reference measured in the same run.

    python bench/cloudfront_bench.py [--lines 2000000] [--hours 24] [--files 3] [--distributions 3]

(a) raw ingest: landing gz -> typed Parquet per hour with HourIngestor (listing with the asset's
    landing_files_for_hour over a LocalObjectStore, one HourIngestor for the run) vs DuckDB's
    bare multi-file read_csv + group by over the same files. Alternating ref/ingest, best of N.
(b) end to end: files landed -> marts built by the real `dataplatform catch-up` (subprocess,
    fresh DATAPLATFORM_HOME each time), on a tiny and the big input: fixed overhead and
    per-line cost, next to the reference scan of the same files.
(c) runs and dbt invocations catch-up used for the hourly partitions (from its summary line).
(d) peak RSS of the ingest (and of the reference) in a child process (os.wait4 rusage, the
    per-child form of RUSAGE_CHILDREN) for the same lines in 1/3/6 files per distribution-hour,
    at two sizes.

Generated inputs are cached in bench/results/data-<lines>-<hours>-<files>-<dists>/ (regenerated
when assets/cloudfront/sample.py or format.py change). Results: bench/results/cloudfront.json.
Every measurement runs in its own child process, timed inside the child (imports excluded for
(a) and (d); for (b) the whole `dataplatform catch-up` process is timed, imports included).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform as _platform  # stdlib (sys.path[0] is bench/, not the repo root)
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
START = datetime(2026, 11, 24, tzinfo=timezone.utc)  # fixed, so cached inputs stay valid
SUMMARY_LINE = re.compile(
    r"catch-up:\s+(?P<runs>\d+)\s+runs\s+\((?P<failed>\d+)\s+failed\)\s+over\s+(?P<partitions>\d+)\s+partitions,\s+"
    r"(?P<dbt>\d+)\s+dbt\s+invocations,\s+(?P<assets>\d+)\s+assets\s+materialised,\s+(?P<skipped>\d+)\s+duplicate"
    r"\s+requests\s+skipped,\s+in\s+(?P<seconds>[\d.]+)s"
)
MARTS = ("cloudfront_bandwidth_by_edge", "cloudfront_bot_traffic", "cloudfront_top_viewers")


# ----------------------------------------------------------------------------- inputs


def _source_digest() -> str:
    digest = hashlib.sha256()
    for name in ("sample.py", "format.py"):
        digest.update((ROOT / "assets" / "cloudfront" / name).read_bytes())
    return digest.hexdigest()[:16]


def _landing_files(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "lake" / "landing" / "cloudfront").glob("*.gz"))


def _isize(path: Path) -> int:
    """Uncompressed size from the gzip trailer (single-member files under 4 GiB, as generated)."""
    with path.open("rb") as handle:
        handle.seek(-4, os.SEEK_END)
        return int.from_bytes(handle.read(4), "little")


def dataset(lines: int, hours: int, files: int, distributions: int, log) -> dict:
    """Generate (or reuse) a sample; returns its manifest."""
    data_dir = RESULTS / f"data-{lines}-{hours}-{files}-{distributions}"
    manifest_path = data_dir / "sample.json"
    digest = _source_digest()
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("source_digest") == digest:
            manifest["cached"] = True
            return manifest
        log(f"sample source changed: regenerating {data_dir.name}")
    shutil.rmtree(data_dir, ignore_errors=True)
    from assets.cloudfront.sample import SampleSpec, generate
    from dataplatform.resources.lake import LocalObjectStore

    spec = SampleSpec(start=START, hours=hours, lines=lines, files_per_hour=files, distributions=distributions)
    log(f"generating {lines:,} lines, {hours} h, {files} files/dist-hour, {distributions} distributions -> {data_dir.name}")
    started = time.perf_counter()
    generate(LocalObjectStore(data_dir / "lake"), spec)
    paths = _landing_files(data_dir)
    manifest = {
        "dir": str(data_dir),
        "lines": lines,
        "hours": hours,
        "files_per_hour": files,
        "distributions": distributions,
        "seed": spec.seed,
        "legacy_share": spec.legacy_share,
        "start": START.isoformat(),
        "files": len(paths),
        "gz_bytes": sum(p.stat().st_size for p in paths),
        "uncompressed_bytes": sum(_isize(p) for p in paths),
        "generation_seconds": round(time.perf_counter() - started, 2),
        "source_digest": digest,
    }
    manifest_path.write_text(json.dumps(manifest, indent=1))  # written last: marks the data complete
    manifest["cached"] = False
    return manifest


# ----------------------------------------------------------------------------- children


def _vm_hwm_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def child_ingest(data_dir: Path, out_dir: Path, threads: int) -> dict:
    """(a)/(d): every hour of the sample through one HourIngestor, as the raw asset does."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from assets.cloudfront.assets import LANDING_BUCKET, hive_path, landing_files_for_hour
    from assets.cloudfront.ingest import HourIngestor
    from dataplatform.resources.lake import LocalObjectStore

    manifest = json.loads((data_dir / "sample.json").read_text())
    start = datetime.fromisoformat(manifest["start"])
    store = LocalObjectStore(data_dir / "lake")
    baseline_kb = _vm_hwm_kb()
    ingestor = HourIngestor(threads=threads)
    totals = {"files": 0, "lines_read": 0, "rows_written": 0, "rejected_lines": 0, "quarantined": 0}
    listing = 0.0
    started = time.perf_counter()
    for h in range(manifest["hours"]):
        hour = start + timedelta(hours=h)
        t = time.perf_counter()
        files = landing_files_for_hour(store, hour)
        listing += time.perf_counter() - t
        part = out_dir / hive_path(hour)
        part.mkdir(parents=True)
        with store.localized(LANDING_BUCKET, [key for key, _ in files]) as paths:
            result = ingestor.ingest_hour(
                [(key, dist, path) for (key, dist), path in zip(files, paths)],
                part / "access_logs.parquet",
                part / "access_log_rejects.parquet",
            )
        pq.write_table(
            pa.table({"user_agent": pa.array(sorted(result.user_agents), pa.string())}), part / "user_agents.parquet"
        )
        totals["files"] += result.files
        totals["lines_read"] += result.lines_read
        totals["rows_written"] += result.rows_written
        totals["rejected_lines"] += result.rejected_lines
        totals["quarantined"] += len(result.quarantined)
    seconds = time.perf_counter() - started
    parquet_bytes = sum(p.stat().st_size for p in out_dir.rglob("access_logs.parquet"))
    # Sanity (untimed): the same bytes as the reference's sum.
    import duckdb

    sc_bytes = duckdb.execute(
        f"select sum(sc_bytes)::BIGINT from read_parquet('{out_dir}/*/*/access_logs.parquet')"
    ).fetchone()[0]
    return {
        "seconds": seconds,
        "listing_seconds": listing,
        **totals,
        "parquet_bytes": parquet_bytes,
        "sum_sc_bytes": sc_bytes,
        "baseline_rss_kb": baseline_kb,
    }


def reference_sql(paths: list[Path]) -> str:
    from assets.cloudfront.format import FIELDS, column_name

    columns = ", ".join(f"'{column_name(f)}': '{'BIGINT' if f == 'sc-bytes' else 'VARCHAR'}'" for f in FIELDS)
    files = ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths)
    return (
        "select date, x_edge_location, sum(sc_bytes) as sc_bytes "
        f"from read_csv([{files}], columns = {{{columns}}}, delim = '\\t', skip = 2, header = false, quote = '', "
        "escape = '', null_padding = true, auto_detect = false, ignore_errors = true) "
        "group by date, x_edge_location"
    )


def child_reference(data_dir: Path, threads: int) -> dict:
    """The bare DuckDB scan: one read_csv over all files, DuckDB parallelising over files."""
    import duckdb

    sql = reference_sql(_landing_files(data_dir))
    con = duckdb.connect(config={"threads": threads})
    baseline_kb = _vm_hwm_kb()
    started = time.perf_counter()
    rows = con.sql(sql).fetchall()
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "groups": len(rows),
        "sum_sc_bytes": sum(r[2] or 0 for r in rows),
        "baseline_rss_kb": baseline_kb,
        "duckdb_threads": con.execute("select current_setting('threads')").fetchone()[0],
    }


def run_child(kind: str, data_dir: Path, threads: int) -> dict:
    """Run one measurement in a fresh process; adds its peak RSS from the kernel (wait4 rusage)."""
    out_dir = Path(tempfile.mkdtemp(prefix=f"out-{kind}-", dir=RESULTS))
    try:
        with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
            command = [sys.executable, __file__, "--child", kind, "--data", str(data_dir), "--out", str(out_dir),
                       "--threads", str(threads)]
            proc = subprocess.Popen(command, stdout=stdout, stderr=stderr, cwd=ROOT)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            stdout.seek(0)
            stderr.seek(0)
            if proc.returncode:
                raise RuntimeError(f"{kind} child failed ({proc.returncode}):\n{stderr.read()[-4000:]}")
            result = json.loads(stdout.read().strip().splitlines()[-1])
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    result["peak_rss_kb"] = usage.ru_maxrss  # KiB on Linux
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    return result


# ----------------------------------------------------------------------------- end to end


def _dataplatform_command() -> list[str]:
    script = Path(sys.executable).parent / "dataplatform"
    return [str(script)] if script.exists() else [sys.executable, "-m", "dataplatform.cli"]


def run_catch_up(manifest: dict, label: str, keep: bool) -> dict:
    """(b)/(c): a fresh home with the sample's files landed, then `dataplatform catch-up`, timed whole."""
    home = Path(tempfile.mkdtemp(prefix=f"e2e-{label}-", dir=RESULTS))
    try:
        # Landing the cached sample = hard links to the generated files (byte-identical to a
        # `dataplatform sample` into this home; nothing writes into the landing bucket).
        shutil.copytree(Path(manifest["dir"]) / "lake" / "landing", home / "lake" / "landing", copy_function=os.link)
        env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "DBT_TARGET", "DATAPLATFORM_ENV")}
        env.update(DATAPLATFORM_HOME=str(home), DATAPLATFORM_ENV="local", COLUMNS="400", NO_COLOR="1", TERM="dumb")
        log_path = home / "catch-up.log"
        with log_path.open("w") as log:
            started = time.perf_counter()
            proc = subprocess.Popen([*_dataplatform_command(), "catch-up"], cwd=ROOT, env=env, stdout=log,
                                    stderr=subprocess.STDOUT)
            _, status, usage = os.wait4(proc.pid, 0)
            seconds = time.perf_counter() - started
            proc.returncode = os.waitstatus_to_exitcode(status)
        output = log_path.read_text()
        match = SUMMARY_LINE.search(output)
        if proc.returncode or not match:
            raise RuntimeError(f"catch-up failed ({proc.returncode}) in {home}:\n{output[-4000:]}")
        import duckdb

        with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
            mart_rows = {m: con.execute(f"select count(*) from marts.{m}").fetchone()[0] for m in MARTS}
            requests = con.execute("select sum(requests) from marts.cloudfront_bandwidth_by_edge").fetchone()[0]
        return {
            "seconds": seconds,
            "catch_up_reported_seconds": float(match["seconds"]),
            "runs": int(match["runs"]),
            "failed_runs": int(match["failed"]),
            "partitions": int(match["partitions"]),
            "dbt_invocations": int(match["dbt"]),
            "assets_materialised": int(match["assets"]),
            "summary_line": " ".join(match.group(0).split()),
            "mart_rows": mart_rows,
            "mart_requests": int(requests or 0),
            "peak_rss_kb": usage.ru_maxrss,
            "cpu_seconds": usage.ru_utime + usage.ru_stime,
        }
    finally:
        if not keep:
            shutil.rmtree(home, ignore_errors=True)


# ----------------------------------------------------------------------------- report


def _best(samples: list[dict]) -> dict:
    return min(samples, key=lambda s: s["seconds"])


def _mb(kb: int) -> float:
    return kb / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--files", type=int, default=3, help="files per distribution-hour")
    parser.add_argument("--distributions", type=int, default=3)
    parser.add_argument("--tiny-lines", type=int, default=2_000, help="(b) input that measures the fixed overhead")
    parser.add_argument("--repeats", type=int, default=2, help="alternating repeats of (a), best taken")
    parser.add_argument("--e2e-repeats", type=int, default=2, help="alternating repeats of (b), best taken")
    parser.add_argument("--mem-files", default="1,3,6", help="(d) files per distribution-hour, comma separated")
    parser.add_argument("--mem-lines", default=None, help="(d) sizes, comma separated (default: lines/4 and lines)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2, help="ingest pool and DuckDB threads")
    parser.add_argument("--skip-e2e", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--keep-homes", action="store_true", help="keep the (b) DATAPLATFORM_HOMEs")
    parser.add_argument("--output", type=Path, default=RESULTS / "cloudfront.json")
    parser.add_argument("--child", choices=("ingest", "reference"), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child == "ingest":
        print(json.dumps(child_ingest(args.data, args.out, args.threads)))
        return 0
    if args.child == "reference":
        print(json.dumps(child_reference(args.data, args.threads)))
        return 0

    from rich.console import Console
    from rich.table import Table

    console = Console()
    log = lambda message: console.log(message)  # noqa: E731
    bench_started = time.perf_counter()
    RESULTS.mkdir(parents=True, exist_ok=True)

    # Inputs first: generation is never part of a measurement.
    t = time.perf_counter()
    big = dataset(args.lines, args.hours, args.files, args.distributions, log)
    tiny = None if args.skip_e2e else dataset(args.tiny_lines, args.hours, args.files, args.distributions, log)
    mem_lines = [int(x) for x in args.mem_lines.split(",")] if args.mem_lines else sorted({max(1, args.lines // 4), args.lines})
    mem_files = [int(x) for x in args.mem_files.split(",")]
    mem_sets = [] if args.skip_memory else [
        dataset(lines, args.hours, files, args.distributions, log) for lines in mem_lines for files in mem_files
    ]
    generation_seconds = time.perf_counter() - t
    for manifest in (big, tiny, *mem_sets):
        if manifest:
            for path in _landing_files(Path(manifest["dir"])):
                path.read_bytes()  # page cache warm for every measurement alike

    # (a) alternating reference / ingest, best of each.
    ref_samples, ingest_samples = [], []
    for i in range(args.repeats):
        log(f"(a) reference scan {i + 1}/{args.repeats}")
        ref_samples.append(run_child("reference", Path(big["dir"]), args.threads))
        log(f"(a) ingest {i + 1}/{args.repeats}")
        ingest_samples.append(run_child("ingest", Path(big["dir"]), args.threads))
    ref, ingest = _best(ref_samples), _best(ingest_samples)
    if ingest["lines_read"] != big["lines"] or ingest["lines_read"] != ingest["rows_written"] + ingest["rejected_lines"]:
        console.print(f"[red]line accounting mismatch: {ingest}[/red]")
    sums_match = ingest["sum_sc_bytes"] == ref["sum_sc_bytes"]

    # (b)+(c) end to end, tiny and big alternating; reference scan of the tiny files as well.
    e2e = {}
    if not args.skip_e2e:
        tiny_ref = [run_child("reference", Path(tiny["dir"]), args.threads) for _ in range(args.repeats)]
        tiny_runs, big_runs = [], []
        for i in range(args.e2e_repeats):
            log(f"(b) catch-up, tiny input {i + 1}/{args.e2e_repeats}")
            tiny_runs.append(run_catch_up(tiny, "tiny", args.keep_homes))
            log(f"(b) catch-up, big input {i + 1}/{args.e2e_repeats}")
            big_runs.append(run_catch_up(big, "big", args.keep_homes))
        t_tiny, t_big = _best(tiny_runs), _best(big_runs)
        per_line = (t_big["seconds"] - t_tiny["seconds"]) / (big["lines"] - tiny["lines"])
        ref_tiny = _best(tiny_ref)
        ref_per_line = (ref["seconds"] - ref_tiny["seconds"]) / (big["lines"] - tiny["lines"])
        e2e = {
            "tiny": t_tiny, "big": t_big, "tiny_samples": tiny_runs, "big_samples": big_runs,
            "reference_tiny": ref_tiny, "reference_tiny_samples": tiny_ref,
            "fixed_overhead_seconds": t_tiny["seconds"],
            "per_line_seconds": per_line,
            "marginal_rows_per_second": 1 / per_line if per_line > 0 else None,
            "overall_rows_per_second": big["lines"] / t_big["seconds"],
            "reference_per_line_seconds": ref_per_line,
            "ratio_total_vs_reference": t_big["seconds"] / ref["seconds"],
            "ratio_marginal_vs_reference": (t_big["seconds"] - t_tiny["seconds"]) / ref["seconds"],
            "ratio_per_line_vs_reference": per_line / ref_per_line if ref_per_line > 0 else None,
        }

    # (d) peak memory: same lines, different numbers of files; two sizes.
    memory = []
    for manifest in mem_sets:
        log(f"(d) memory: {manifest['lines']:,} lines in {manifest['files']} files")
        m_ref = run_child("reference", Path(manifest["dir"]), args.threads)
        m_ing = run_child("ingest", Path(manifest["dir"]), args.threads)
        memory.append({"dataset": {k: manifest[k] for k in ("lines", "files_per_hour", "files", "gz_bytes", "uncompressed_bytes")},
                       "ingest": m_ing, "reference": m_ref})

    bench_seconds = time.perf_counter() - bench_started
    lines, raw_bytes = big["lines"], big["uncompressed_bytes"]
    results = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "params": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k not in ("child", "data", "out")},
        "machine": {"cpus": os.cpu_count(), "python": _platform.python_version(), "platform": _platform.platform()},
        "datasets": {"big": big, "tiny": tiny, "memory": mem_sets},
        "raw_ingest": {
            "ingest": ingest, "reference": ref, "ingest_samples": ingest_samples, "reference_samples": ref_samples,
            "ratio": ingest["seconds"] / ref["seconds"],
            "target_ratio": 1.5,
            "ingest_lines_per_second": lines / ingest["seconds"],
            "reference_lines_per_second": lines / ref["seconds"],
            "ingest_mb_per_second": raw_bytes / 1e6 / ingest["seconds"],
            "reference_mb_per_second": raw_bytes / 1e6 / ref["seconds"],
            "sum_sc_bytes_match": sums_match,
        },
        "end_to_end": e2e,
        "memory": memory,
        "generation_seconds": generation_seconds,
        "benchmark_seconds": bench_seconds,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1, default=str))

    # ---- tables
    title = (f"{lines:,} lines, {args.hours} h, {big['files']} files ({args.files}/dist-hour, {args.distributions} dists), "
             f"{big['gz_bytes'] / 1e6:.1f} MB gz, {raw_bytes / 1e6:.1f} MB raw; threads={args.threads}")
    a = Table(title=f"(a) raw ingest, best of {args.repeats} alternating - {title}")
    for col, justify in (("", "left"), ("HourIngestor", "right"), ("DuckDB read_csv", "right"), ("ratio", "right")):
        a.add_column(col, justify=justify)
    ratio = results["raw_ingest"]["ratio"]
    a.add_row("wall time (s)", f"{ingest['seconds']:.2f}", f"{ref['seconds']:.2f}",
              f"[{'green' if ratio <= 1.5 else 'red'}]{ratio:.2f}x[/] (target <= 1.5x)")
    a.add_row("  samples (s)", " ".join(f"{s['seconds']:.2f}" for s in ingest_samples),
              " ".join(f"{s['seconds']:.2f}" for s in ref_samples), "")
    a.add_row("  of which listing (s)", f"{ingest['listing_seconds']:.2f}", "-", "")
    a.add_row("lines/s", f"{lines / ingest['seconds']:,.0f}", f"{lines / ref['seconds']:,.0f}", "")
    a.add_row("MB/s uncompressed", f"{raw_bytes / 1e6 / ingest['seconds']:.1f}", f"{raw_bytes / 1e6 / ref['seconds']:.1f}", "")
    a.add_row("CPU time (s)", f"{ingest['cpu_seconds']:.2f}", f"{ref['cpu_seconds']:.2f}",
              f"{ingest['cpu_seconds'] / ref['cpu_seconds']:.2f}x")
    a.add_row("peak RSS (MB)", f"{_mb(ingest['peak_rss_kb']):.0f}", f"{_mb(ref['peak_rss_kb']):.0f}", "")
    a.add_row("rows / rejects", f"{ingest['rows_written']:,} / {ingest['rejected_lines']:,}", f"{ref['groups']:,} groups", "")
    a.add_row("sum(sc_bytes)", f"{ingest['sum_sc_bytes']:,}", f"{ref['sum_sc_bytes']:,}", "match" if sums_match else "[red]DIFFER[/]")
    a.add_row("Parquet written (MB)", f"{ingest['parquet_bytes'] / 1e6:.1f}", "-", "")
    console.print(a)

    if e2e:
        b = Table(title=f"(b) end to end: landed files -> 3 marts via `dataplatform catch-up` (best of {args.e2e_repeats})")
        for col, justify in (("", "left"), ("tiny", "right"), ("big", "right"), ("DuckDB ref (big)", "right"), ("ratio", "right")):
            b.add_column(col, justify=justify)
        tt, tb, rt = e2e["tiny"], e2e["big"], e2e["reference_tiny"]
        b.add_row("lines", f"{tiny['lines']:,}", f"{lines:,}", f"{lines:,}", "")
        b.add_row("wall time (s)", f"{tt['seconds']:.2f}", f"{tb['seconds']:.2f}", f"{ref['seconds']:.2f}",
                  f"{e2e['ratio_total_vs_reference']:.1f}x")
        b.add_row("  samples (s)", " ".join(f"{s['seconds']:.1f}" for s in e2e["tiny_samples"]),
                  " ".join(f"{s['seconds']:.1f}" for s in e2e["big_samples"]), "", "")
        b.add_row("  catch-up's own 'in Xs'", f"{tt['catch_up_reported_seconds']:.1f}", f"{tb['catch_up_reported_seconds']:.1f}", "", "")
        b.add_row("big - tiny (s)", "", f"{tb['seconds'] - tt['seconds']:.2f}", f"{ref['seconds'] - rt['seconds']:.2f}",
                  f"{e2e['ratio_marginal_vs_reference']:.2f}x")
        b.add_row("per-line cost (us)", "", f"{e2e['per_line_seconds'] * 1e6:.2f}", f"{e2e['reference_per_line_seconds'] * 1e6:.2f}",
                  f"{e2e['ratio_per_line_vs_reference']:.2f}x" if e2e["ratio_per_line_vs_reference"] else "-")
        b.add_row("rows/s marginal", "", f"{e2e['marginal_rows_per_second']:,.0f}", f"{1 / e2e['reference_per_line_seconds']:,.0f}", "")
        b.add_row("rows/s overall", f"{tiny['lines'] / tt['seconds']:,.0f}", f"{e2e['overall_rows_per_second']:,.0f}",
                  f"{lines / ref['seconds']:,.0f}", "")
        b.add_row("fixed overhead (s)", f"{e2e['fixed_overhead_seconds']:.2f}", "", f"{rt['seconds']:.2f} (ref, tiny)", "")
        b.add_row("peak RSS (MB)", f"{_mb(tt['peak_rss_kb']):.0f}", f"{_mb(tb['peak_rss_kb']):.0f}", f"{_mb(ref['peak_rss_kb']):.0f}", "")
        b.add_row("mart rows", " / ".join(str(v) for v in tt["mart_rows"].values()),
                  " / ".join(str(v) for v in tb["mart_rows"].values()), "", "")
        b.add_row("sum(requests) in bandwidth mart", f"{tt['mart_requests']:,}", f"{tb['mart_requests']:,}",
                  f"{ingest['rows_written']:,} rows (a)", "match" if tb["mart_requests"] == ingest["rows_written"] else "[red]DIFFER[/]")
        console.print(b)

        c = Table(title=f"(c) orchestration for {args.hours} hourly partitions (catch-up's summary line)")
        for col, justify in (("input", "left"), ("runs", "right"), ("partitions", "right"), ("dbt invocations", "right"),
                             ("assets", "right"), ("verdict", "left")):
            c.add_column(col, justify=justify)
        for name, run in (("tiny", tt), ("big", tb)):
            ok = run["dbt_invocations"] < args.hours and run["failed_runs"] == 0
            c.add_row(name, str(run["runs"]), str(run["partitions"]), str(run["dbt_invocations"]), str(run["assets_materialised"]),
                      f"[{'green' if ok else 'red'}]{'OK' if ok else 'FAIL'}[/] ({run['dbt_invocations']} vs {args.hours} hourly)")
        console.print(c)
        console.print(f"  {tb['summary_line']}")

    if memory:
        d = Table(title="(d) peak RSS of a child running the whole ingest (os.wait4 ru_maxrss) vs the DuckDB scan")
        for col in ("lines", "files/dist-hour", "files", "MB raw", "ingest peak MB", "after imports MB",
                    "ingest delta MB", "ref peak MB", "ingest s", "ref s", "ratio"):
            d.add_column(col, justify="right")
        for m in memory:
            ds, mi, mr = m["dataset"], m["ingest"], m["reference"]
            d.add_row(f"{ds['lines']:,}", str(ds["files_per_hour"]), str(ds["files"]), f"{ds['uncompressed_bytes'] / 1e6:.0f}",
                      f"{_mb(mi['peak_rss_kb']):.0f}", f"{_mb(mi['baseline_rss_kb']):.0f}",
                      f"{_mb(mi['peak_rss_kb'] - mi['baseline_rss_kb']):.0f}", f"{_mb(mr['peak_rss_kb']):.0f}",
                      f"{mi['seconds']:.2f}", f"{mr['seconds']:.2f}", f"{mi['seconds'] / mr['seconds']:.2f}x")
        console.print(d)
        for size in mem_lines:
            peaks = [m["ingest"]["peak_rss_kb"] for m in memory if m["dataset"]["lines"] == size]
            spread = (max(peaks) - min(peaks)) / min(peaks)
            console.print(f"  {size:,} lines: ingest peak {_mb(min(peaks)):.0f}-{_mb(max(peaks)):.0f} MB over "
                          f"{'/'.join(map(str, mem_files))} files per dist-hour (spread {spread:.0%})")

    console.print(f"benchmark {bench_seconds:.0f}s (generation {generation_seconds:.0f}s) -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
