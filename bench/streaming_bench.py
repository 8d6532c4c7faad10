#!/usr/bin/env python
"""Streaming benchmark: the stream consumer next to a bare read of the same stream, and produce-to-window latency.

    python bench/streaming_bench.py [--records 200000] [--rate 500] [--latency-records 20000]

Everything runs on the embedded default: a LocalStreamStore (SQLite) in a fresh DATAPLATFORM_HOME
per measurement, stream `cloudfront_realtime` (2 shards, platform/policies/streams.yaml).

(a) sustained consumer throughput. --records CloudFront real-time records (RealtimeSpec, --rate
    per second, 2 % producer retries, 1 % late; the first N in emit order) are published once
    with put_records in batches of 500, as `dataplatform produce` does; every measurement gets a
    fresh home holding a copy of that stream.
      consumer  - the `cloudfront_realtime_ranges` multi-asset executed in process with
                  dagster.materialize (ephemeral instance, resources lake=LocalObjectStore and
                  stream=LocalStreamStore of the home), run config = one range per shard covering
                  the whole shard: read_range + parse + rows + Parquet per range, exactly the
                  asset's code. Timed around materialize, after one warm-up run with no ranges.
      bare read - store.read over every shard in batches of 10,000 (TRIM_HORIZON, then
                  AFTER_SEQUENCE_NUMBER), touching only len(data).
    Alternating bare / consumer, best of --repeats; records/s and the ratio consumer/bare.
    A profile child replays the asset's loop body stage by stage (read, parse, row building,
    Arrow conversion, Parquet write; the garbage collector paused per stage) and measures
    alternatives that touch no shared code (memoised / positional parse, columns built directly).
(b) produce-to-window latency. A fresh home, --latency-records records published; then
    `dataplatform catch-up` (subprocess) until marts.cloudfront_realtime_bandwidth holds them
    (checked against an independent count from the stream: first delivery per request id,
    late records left out). Split: catch-up on an empty stream (fixed overhead) vs the rest,
    the rest broken down from the Dagster instance (range run, downstream refresh, dbt phases
    from dbt's own log). Then a second batch into the same home (steady state).

Each measurement runs in its own child process, timed inside the child (imports excluded);
peak RSS and CPU time from the kernel's rusage of that child (os.wait4). (b) times the whole
catch-up process. Results: bench/results/streaming.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform as _platform  # stdlib (sys.path[0] is bench/, not the repo root)
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

# Shared with the CloudFront bench (sys.path[0] is bench/ when run as a script).
from cloudfront_bench import SUMMARY_LINE, _best, _dataplatform_command, _mb, _vm_hwm_kb

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
START = datetime(2026, 11, 24, 12, tzinfo=timezone.utc)  # event times: fixed, so runs compare
STREAM = "cloudfront_realtime"
OP = f"{STREAM}_ranges"
MART = "marts.cloudfront_realtime_bandwidth"
READ_BATCH = 10_000
DBT_RESULTS = ("ASSET_MATERIALIZATION", "ASSET_CHECK_EVALUATION")  # recorded as dbt finishes each node


def _seconds(started: float) -> float:
    return time.perf_counter() - started


# ----------------------------------------------------------------------------- children


def child_publish(home: Path, records: int, rate: int, start: datetime, seed: int, duplicates: float, late: float) -> dict:
    """Exactly `records` records (the first ones in emit order) put in batches of 500, as `dataplatform produce`."""
    from itertools import islice

    from assets.cloudfront.realtime_sample import RealtimeSpec, records as produce
    from dataplatform.resources.stream import LocalStreamStore
    from dataplatform.streams import streams

    policy = streams()[STREAM]
    seconds = math.ceil(records / rate) + 1
    while True:  # Poisson arrivals: widen the window until it holds N records
        spec = RealtimeSpec(start=start, seconds=seconds, rate=rate, seed=seed, duplicate_share=duplicates, late_share=late)
        started = time.perf_counter()
        batch = list(islice(produce(spec), records))
        generation = _seconds(started)
        if len(batch) == records:
            break
        seconds = math.ceil(seconds * 1.1) + 1
    store = LocalStreamStore(home / "streams.sqlite")
    store.create_stream(policy.name, policy.shards)
    ranges: dict[str, list[str]] = {}
    counts: dict[str, int] = {}
    started = time.perf_counter()
    for offset in range(0, len(batch), 500):
        for shard, sequence in store.put_records(policy.name, batch[offset : offset + 500]):
            ranges.setdefault(shard, [sequence, sequence])[1] = sequence
            counts[shard] = counts.get(shard, 0) + 1
    put_seconds = _seconds(started)
    ended_at = time.time()  # end of publishing, wall clock (compared across processes)
    return {
        "records": len(batch),
        "event_seconds": seconds,
        "data_bytes": sum(len(data) for _, data in batch),
        "generation_seconds": generation,
        "put_seconds": put_seconds,
        "ended_at": ended_at,
        "ranges": ranges,
        "shard_records": counts,
    }


def child_bare(home: Path) -> dict:
    """Reference: every record of every shard via store.read in batches of 10,000, touching len(data)."""
    from dataplatform.resources.stream import LocalStreamStore

    store = LocalStreamStore(home / "streams.sqlite")
    baseline_kb = _vm_hwm_kb()
    records, nbytes, per_shard = 0, 0, {}
    started = time.perf_counter()
    for shard in store.list_shards(STREAM):
        position, sequence, n = "TRIM_HORIZON", None, 0
        while chunk := store.read(STREAM, shard.shard_id, position=position, sequence_number=sequence, limit=READ_BATCH):
            n += len(chunk)
            nbytes += sum(len(record.data) for record in chunk)
            position, sequence = "AFTER_SEQUENCE_NUMBER", chunk[-1].sequence_number
        per_shard[shard.shard_id] = n
        records += n
    return {"seconds": _seconds(started), "records": records, "data_bytes": nbytes, "per_shard": per_shard,
            "baseline_rss_kb": baseline_kb}


def _step_seconds(instance, run_id: str) -> float | None:
    """STEP_START -> STEP_SUCCESS of the run's only step, from the event log."""
    marks = {}
    for entry in instance.all_logs(run_id):
        if entry.dagster_event and entry.dagster_event.event_type_value in ("STEP_START", "STEP_SUCCESS"):
            marks[entry.dagster_event.event_type_value] = entry.timestamp
    return marks["STEP_SUCCESS"] - marks["STEP_START"] if len(marks) == 2 else None


def child_consumer(home: Path, ranges: dict[str, list[str]]) -> dict:
    """The cloudfront_realtime_ranges multi-asset through dagster.materialize, ranges = whole shards."""
    import dagster as dg
    import pyarrow.parquet as pq

    from assets.cloudfront.realtime import realtime_ranges
    from dataplatform.resources.catalog import LocalCatalog
    from dataplatform.resources.lake import LocalObjectStore
    from dataplatform.resources.stream import LocalStreamStore

    resources = {"lake": LocalObjectStore(home / "lake"), "stream": LocalStreamStore(home / "streams.sqlite"),
                 "catalog": LocalCatalog(home / "catalog.sqlite")}
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}  # as catch-up runs it

    def run(run_ranges: dict) -> tuple[float, dg.ExecuteInProcessResult]:
        started = time.perf_counter()
        result = dg.materialize([realtime_ranges], resources=resources, instance=instance, raise_on_error=True,
                                run_config={"ops": {OP: {"config": {"ranges": run_ranges}}}, **quiet})
        return _seconds(started), result

    with dg.DagsterInstance.ephemeral() as instance:
        cold_empty, _ = run({})  # warm-up: the first run in a process pays one-off setup
        baseline_kb = _vm_hwm_kb()
        seconds, result = run(ranges)
        warm_empty, _ = run({})
        step = _step_seconds(instance, result.run_id)
    metadata = {}
    for event in result.get_asset_materialization_events():
        if event.asset_key.path[-1] == "realtime_records":
            metadata = {k: v.value for k, v in event.materialization.metadata.items()}
    files = sorted((home / "lake" / "raw" / "cloudfront" / "realtime_records").rglob("*.parquet"))
    return {
        "seconds": seconds,
        "step_seconds": step,
        "empty_run_seconds_cold": cold_empty,
        "empty_run_seconds_warm": warm_empty,
        **{f"asset_{k}": v for k, v in metadata.items()},
        "parquet_files": len(files),
        "parquet_rows": sum(pq.read_metadata(f).num_rows for f in files),
        "parquet_bytes": sum(f.stat().st_size for f in files),
        "baseline_rss_kb": baseline_kb,
    }


def child_profile(home: Path, ranges: dict[str, list[str]]) -> dict:
    """The asset's loop body (dataplatform/stream_ranges.py) replayed stage by stage, same calls and
    data; plus sub-measurements and alternatives that change no shared code."""
    import gc
    import sqlite3
    from functools import lru_cache

    import pyarrow as pa
    import pyarrow.parquet as pq

    from assets.cloudfront.realtime import REALTIME_RECORDS as fmt
    from assets.cloudfront.realtime import VALUE_COLUMNS, decode_until_stable
    from assets.cloudfront.realtime_format import _INTEGER as INTEGER
    from assets.cloudfront.realtime_format import _TIMESTAMP as TIMESTAMP
    from assets.cloudfront.realtime_format import CONFIGURED_FIELDS, parse_record
    from dataplatform.delimited_logs import arrow_schema
    from dataplatform.resources.lake import LocalObjectStore
    from dataplatform.resources.stream import LocalStreamStore
    from dataplatform.stream_ranges import RECORD_COLUMNS, REJECT_COLUMNS, WATERMARK_KEY, range_key, read_range
    from dataplatform.streams import streams

    policy = streams()[STREAM]
    lake, store = LocalObjectStore(home / "lake"), LocalStreamStore(home / "streams.sqlite")
    columns = (*RECORD_COLUMNS, *fmt.columns)
    names = [n for n, _ in columns]
    schema = arrow_schema(columns)
    stages = {k: [0.0, 0.0] for k in ("read", "parse", "rows", "dicts", "from_pylist", "write")}
    sub = {k: [0.0, 0.0] for k in ("sqlite_fetch", "bare_read", "parse_record", "decode_ua", "memo_parse",
                                   "positional_parse", "columns")}

    def timed(bucket: dict, key: str, fn):
        # The collector is paused while a stage runs (after a full collection), so that stages and
        # alternatives do not pay for each other's live objects; the asset itself runs with it on.
        gc.collect()
        gc.disable()
        try:
            wall, cpu = time.perf_counter(), time.process_time()
            value = fn()
            bucket[key][0] += time.perf_counter() - wall
            bucket[key][1] += time.process_time() - cpu
        finally:
            gc.enable()
        return value

    memo = lru_cache(maxsize=65_536)(decode_until_stable)

    def parse_memoised(data: bytes):  # parse_realtime, only the user-agent decode cached per distinct value
        record = parse_record(data)
        if not record.get("x-edge-request-id") or record.get("timestamp") is None:
            raise ValueError("record without request id or timestamp")
        values = {column: record.get(column.replace("_", "-")) for column, _ in VALUE_COLUMNS}
        values["cs_user_agent"] = memo(values["cs_user_agent"])
        return float(record["timestamp"]), record["x-edge-request-id"], values

    assert CONFIGURED_FIELDS == ("timestamp", "c-ip", "sc-status", "sc-bytes", "cs-host", "x-edge-location",
                                 "x-edge-request-id", "cs-user-agent", "x-edge-result-type")

    def parse_positional(data: bytes):  # the configured layout split once, fields by position, decode cached
        text = data.decode("utf-8")
        if text.endswith("\n"):
            text = text[:-1]
            if text.endswith("\r"):
                text = text[:-1]
        ts, ip, status, nbytes, host, edge, rid, agent, rtype = text.split("\t")  # ValueError on a wrong count
        if ts == "-" or rid == "-":
            raise ValueError("record without request id or timestamp")
        if not TIMESTAMP.fullmatch(ts):
            raise ValueError(f"bad timestamp {ts[:40]!r}")
        numbers = []
        for name, value in (("sc-status", status), ("sc-bytes", nbytes)):
            if value != "-" and not INTEGER.fullmatch(value):
                raise ValueError(f"bad {name} {value[:40]!r}")
            numbers.append(None if value == "-" else int(value))
        dash = lambda v: None if v == "-" else v  # noqa: E731
        return float(ts), rid, {"c_ip": dash(ip), "sc_status": numbers[0], "sc_bytes": numbers[1], "cs_host": dash(host),
                                "x_edge_location": dash(edge), "cs_user_agent": memo(dash(agent)),
                                "x_edge_result_type": dash(rtype)}

    records_total, distinct_agents, same_parse, same_table = 0, set(), True, True
    for shard_id, (first, last) in sorted(ranges.items()):
        # Where reading goes (measured first, with nothing of this shard in memory yet).
        def sqlite_fetch():  # the SQL LocalStreamStore.read runs, rows fetched, no StreamRecord objects
            con = sqlite3.connect(home / "streams.sqlite")
            n, number = 0, int(first)
            while True:
                got = con.execute(
                    "select sequence, partition_key, data, arrival from records where stream = ? and shard_id = ?"
                    " and sequence >= ? and sequence <= ? order by sequence limit ?",
                    (STREAM, shard_id, number, int(last), READ_BATCH)).fetchall()
                n += len(got)
                if len(got) < READ_BATCH:
                    break
                number = got[-1][0] + 1
            con.close()
            return n

        timed(sub, "sqlite_fetch", sqlite_fetch)

        def bare():
            n, position, sequence = 0, "AT_SEQUENCE_NUMBER", first
            while chunk := store.read(STREAM, shard_id, position=position, sequence_number=sequence, limit=READ_BATCH):
                n += sum(1 for r in chunk if len(r.data))
                if chunk[-1].sequence_number == last:
                    break
                position, sequence = "AFTER_SEQUENCE_NUMBER", chunk[-1].sequence_number
            return n

        timed(sub, "bare_read", bare)

        watermark = None
        records = timed(stages, "read", lambda: read_range(store, STREAM, shard_id, first, last))
        parsed = timed(stages, "parse", lambda: [fmt.parse(r.data) for r in records])  # no rejects in the sample

        def build_rows():
            nonlocal watermark
            rows = []
            for record, (event_time, dedupe_key, values) in zip(records, parsed):
                late = watermark is not None and event_time < watermark - policy.allowed_lateness_seconds
                watermark = event_time if watermark is None else max(watermark, event_time)
                rows.append((shard_id, record.sequence_number, record.arrival_timestamp, event_time, dedupe_key, late,
                             *(values.get(name) for name, _ in fmt.columns)))
            return rows

        rows = timed(stages, "rows", build_rows)
        dicts = timed(stages, "dicts", lambda: [dict(zip(names, row)) for row in rows])
        table = timed(stages, "from_pylist", lambda: pa.Table.from_pylist(dicts, schema=schema))
        table = table.replace_schema_metadata({WATERMARK_KEY: str(watermark).encode()})

        def write():
            with tempfile.TemporaryDirectory() as tmp:
                path, rejects_path = Path(tmp) / "range.parquet", Path(tmp) / "rejects.parquet"
                pq.write_table(table, path, compression="zstd")
                pq.write_table(pa.Table.from_pylist([], schema=arrow_schema(REJECT_COLUMNS)), rejects_path)
                lake.upload(path, "raw", range_key("profile/realtime_records", shard_id, first, last))
                lake.upload(rejects_path, "raw", range_key("profile/realtime_records_rejects", shard_id, first, last))

        timed(stages, "write", write)

        # Where parsing goes, and the alternatives.
        fields = timed(sub, "parse_record", lambda: [parse_record(r.data) for r in records])
        agents = [f.get("cs-user-agent") for f in fields]
        distinct_agents.update(agents)
        timed(sub, "decode_ua", lambda: [decode_until_stable(a) for a in agents])
        memo_parsed = timed(sub, "memo_parse", lambda: [parse_memoised(r.data) for r in records])
        positional = timed(sub, "positional_parse", lambda: [parse_positional(r.data) for r in records])
        same_parse &= memo_parsed == parsed == positional

        def columns_directly():  # the rows loop appending to one list per column, then typed Arrow arrays
            mark = None
            sequences, arrivals, event_times, keys, lates = [], [], [], [], []
            values_by_column = [(name, []) for name, _ in fmt.columns]
            for record, (event_time, dedupe_key, values) in zip(records, parsed):
                late = mark is not None and event_time < mark - policy.allowed_lateness_seconds
                mark = event_time if mark is None else max(mark, event_time)
                sequences.append(record.sequence_number)
                arrivals.append(record.arrival_timestamp)
                event_times.append(event_time)
                keys.append(dedupe_key)
                lates.append(late)
                for name, column in values_by_column:
                    column.append(values.get(name))
            data = [[shard_id] * len(sequences), sequences, arrivals, event_times, keys, lates,
                    *(column for _, column in values_by_column)]
            return pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(data, schema)], schema=schema)

        same_table &= timed(sub, "columns", columns_directly).equals(table.replace_schema_metadata(None))
        records_total += len(records)
        del records, parsed, rows, dicts, table, fields, agents, memo_parsed, positional
    return {"records": records_total, "stages": stages, "sub": sub, "distinct_user_agents": len(distinct_agents),
            "parse_alternatives_identical": same_parse, "columns_identical": same_table}


def child_inspect(home: Path) -> dict:
    """(b), untimed: the runs of the catch-ups in this home (Dagster instance + dbt's own log) and
    the mart next to an independent count of what it must hold."""
    import duckdb
    import dagster as dg

    from assets.cloudfront.realtime_format import parse_record
    from dataplatform import settings
    from dataplatform.resources.stream import LocalStreamStore
    from dataplatform.streams import streams

    settings.ensure_dagster_home()
    policy = streams()[STREAM]
    runs = []
    with dg.DagsterInstance.get() as instance:
        for run in reversed(instance.get_runs()):  # oldest first
            stats = instance.get_run_stats(run.run_id)
            info = {"run_id": run.run_id, "status": run.status.value, "start": stats.start_time, "end": stats.end_time,
                    "assets": sorted(k.to_user_string() for k in run.asset_selection or ()), "materialized": {}}
            for entry in instance.all_logs(run.run_id):
                event = entry.dagster_event
                if event and event.event_type_value == "ASSET_MATERIALIZATION":
                    info["materialized"][event.asset_key.to_user_string()] = entry.timestamp
                if event and event.step_key == "dbt_models" and event.event_type_value in DBT_RESULTS:
                    info.setdefault("dbt_first_result", entry.timestamp)
                    info["dbt_last_result"] = entry.timestamp
                elif event and event.event_type_value in ("STEP_START", "STEP_SUCCESS") and event.step_key == "dbt_models":
                    info[f"dbt_{event.event_type_value.lower()}"] = entry.timestamp
                elif (entry.user_message or "").startswith("Running dbt command"):
                    info["dbt_launched"] = entry.timestamp
            runs.append(info)

    # Expected: each request id once (first delivery in shard, sequence order, as the dbt model
    # picks it), unless that delivery is late behind its shard's event-time watermark.
    store = LocalStreamStore(home / "streams.sqlite")
    first_delivery: dict[str, tuple] = {}
    total = 0
    for shard in store.list_shards(STREAM):
        watermark, position, sequence = None, "TRIM_HORIZON", None
        while chunk := store.read(STREAM, shard.shard_id, position=position, sequence_number=sequence, limit=READ_BATCH):
            for record in chunk:
                fields = parse_record(record.data)
                event_time = fields["timestamp"]
                late = watermark is not None and event_time < watermark - policy.allowed_lateness_seconds
                watermark = event_time if watermark is None else max(watermark, event_time)
                key = (shard.shard_id, int(record.sequence_number))
                previous = first_delivery.get(fields["x-edge-request-id"])
                if previous is None or key < previous[0]:
                    first_delivery[fields["x-edge-request-id"]] = (key, late)
            total += len(chunk)
            position, sequence = "AFTER_SEQUENCE_NUMBER", chunk[-1].sequence_number
    expected = sum(1 for _, late in first_delivery.values() if not late)
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        actual = con.execute(f"select coalesce(sum(requests), 0) from {MART} where window_type = 'tumbling_1m'").fetchone()[0]
        windows = con.execute(f"select count(*) from {MART}").fetchone()[0]
    return {"runs": runs, "stream_records": total, "expected_requests": expected, "mart_requests": int(actual),
            "mart_windows": windows}


# ----------------------------------------------------------------------------- parent side


def run_child(kind: str, home: Path, *extra: str) -> dict:
    """One measurement in a fresh process; adds its peak RSS and CPU time from the kernel (wait4 rusage)."""
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        command = [sys.executable, __file__, "--child", kind, "--home", str(home), *extra]
        env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "DBT_TARGET")}
        env.update(DATAPLATFORM_HOME=str(home), DATAPLATFORM_ENV="local")
        proc = subprocess.Popen(command, stdout=stdout, stderr=stderr, cwd=ROOT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        if proc.returncode:
            raise RuntimeError(f"{kind} child failed ({proc.returncode}):\n{stderr.read()[-4000:]}")
        result = json.loads(stdout.read().strip().splitlines()[-1])
    result["peak_rss_kb"] = usage.ru_maxrss  # KiB on Linux
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    result["loadavg_1m_after"] = os.getloadavg()[0]
    return result


def _home(label: str, stream_from: Path | None = None) -> Path:
    home = Path(tempfile.mkdtemp(prefix=f"stream-{label}-", dir=RESULTS))
    if stream_from is not None:  # the published stream, byte for byte (closed cleanly: no WAL left)
        shutil.copyfile(stream_from / "streams.sqlite", home / "streams.sqlite")
    return home


def _publish_args(records: int, rate: int, start: datetime, seed: int, args) -> list[str]:
    return ["--records", str(records), "--rate", str(rate), "--start", start.isoformat(), "--seed", str(seed),
            "--duplicates", str(args.duplicates), "--late", str(args.late)]


def run_catch_up(home: Path) -> dict:
    """`dataplatform catch-up` in `home`, timed whole (launch to exit, wall clock and perf counter)."""
    import duckdb

    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "DBT_TARGET", "DATAPLATFORM_ENV")}
    env.update(DATAPLATFORM_HOME=str(home), DATAPLATFORM_ENV="local", COLUMNS="400", NO_COLOR="1", TERM="dumb")
    log_path = home / "catch-up.out"
    with log_path.open("a") as log:
        launched_at, started = time.time(), time.perf_counter()
        proc = subprocess.Popen([*_dataplatform_command(), "catch-up"], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds, exited_at = _seconds(started), time.time()
    output = log_path.read_text()
    matches = list(SUMMARY_LINE.finditer(output))
    if os.waitstatus_to_exitcode(status) or not matches:
        raise RuntimeError(f"catch-up failed in {home}:\n{output[-4000:]}")
    match = matches[-1]
    # The consumer's view: the mart, read as soon as catch-up is done (it exists only once a batch went through).
    mart_requests, verified_at = None, None
    if (home / "warehouse.duckdb").exists():
        with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
            exists = con.execute("select count(*) from information_schema.tables where table_schema = 'marts'"
                                 " and table_name = 'cloudfront_realtime_bandwidth'").fetchone()[0]
            if exists:
                mart_requests = con.execute(
                    f"select coalesce(sum(requests), 0) from {MART} where window_type = 'tumbling_1m'").fetchone()[0]
        verified_at = time.time()
    return {
        "seconds": seconds, "launched_at": launched_at, "exited_at": exited_at, "verified_at": verified_at,
        "mart_requests_at_exit": mart_requests,
        "runs": int(match["runs"]), "failed_runs": int(match["failed"]), "dbt_invocations": int(match["dbt"]),
        "assets_materialised": int(match["assets"]), "catch_up_reported_seconds": float(match["seconds"]),
        "summary_line": " ".join(match.group(0).split()),
        "peak_rss_kb": usage.ru_maxrss, "cpu_seconds": usage.ru_utime + usage.ru_stime,  # dbt's subprocesses included
        "loadavg_1m_after": os.getloadavg()[0],
    }


def latency_breakdown(published: dict, catch_up: dict, inspect: dict, runs: list[dict]) -> dict:
    """Times relative to the end of publishing, and where catch-up's time went (this catch-up's runs only)."""
    t0 = published["ended_at"]
    ranges_run = next((r for r in runs if any(a.endswith("realtime_records") for a in r["assets"])), None)
    refresh = next((r for r in runs if "dbt_step_start" in r), None)
    mart_at = refresh["materialized"].get(MART.replace(".", "/")) if refresh else None
    out = {
        "records": published["records"],
        "publish_to_catch_up_launch": catch_up["launched_at"] - t0,
        "publish_to_mart_materialized": mart_at - t0 if mart_at else None,
        "publish_to_catch_up_exit": catch_up["exited_at"] - t0,
        "publish_to_verified": catch_up["verified_at"] - t0 if catch_up["verified_at"] else None,
        "catch_up_seconds": catch_up["seconds"],
        "range_run_seconds": ranges_run["end"] - ranges_run["start"] if ranges_run else None,
        "refresh_run_seconds": refresh["end"] - refresh["start"] if refresh else None,
        "refresh_assets": len(refresh["assets"]) if refresh else 0,
        "mart_requests": inspect["mart_requests"], "expected_requests": inspect["expected_requests"],
        "mart_requests_at_exit": catch_up["mart_requests_at_exit"],
        "stream_records": inspect["stream_records"],
    }
    if refresh:
        dbt_end = refresh.get("dbt_step_success", refresh["end"])
        out["dbt_step_seconds"] = dbt_end - refresh["dbt_step_start"]
        out["refresh_before_dbt_step"] = refresh["dbt_step_start"] - refresh["start"]  # user-agent dimension
        launched = refresh.get("dbt_launched")
        if launched:
            out["dbt_prepare_seconds"] = launched - refresh["dbt_step_start"]  # dagster-dbt: selection
        if launched and refresh.get("dbt_first_result"):
            # dbt runs in the run's process (its own log is not kept): the split comes from the
            # results dagster-dbt recorded as dbt finished each node.
            out["dbt_start_to_first_result"] = refresh["dbt_first_result"] - launched
            out["dbt_first_to_last_result"] = refresh["dbt_last_result"] - refresh["dbt_first_result"]
            out["dbt_after_last_result"] = dbt_end - refresh["dbt_last_result"]
        out["refresh_after_dbt_step"] = refresh["end"] - dbt_end
    run_seconds = sum(x or 0 for x in (out["range_run_seconds"], out["refresh_run_seconds"]))
    out["catch_up_outside_runs"] = catch_up["seconds"] - run_seconds
    return out


# ----------------------------------------------------------------------------- report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000, help="(a) records published")
    parser.add_argument("--rate", type=int, default=500, help="records per second of event time")
    parser.add_argument("--duplicates", type=float, default=0.02, help="share of producer retries")
    parser.add_argument("--late", type=float, default=0.01, help="share of late records")
    parser.add_argument("--repeats", type=int, default=3, help="(a) alternating repeats, best taken")
    parser.add_argument("--latency-records", type=int, default=20_000, help="(b) records per batch")
    parser.add_argument("--e2e-repeats", type=int, default=1, help="(b) repeats (empty, batch 1, batch 2), best taken")
    parser.add_argument("--skip-profile", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-second-batch", action="store_true", help="(b) without the steady-state second batch")
    parser.add_argument("--keep-homes", action="store_true", help="keep every DATAPLATFORM_HOME under bench/results/")
    parser.add_argument("--output", type=Path, default=RESULTS / "streaming.json")
    parser.add_argument("--child", choices=("publish", "bare", "consumer", "profile", "inspect"), help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--start", type=datetime.fromisoformat, default=START, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=7, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        if args.child == "publish":
            result = child_publish(args.home, args.records, args.rate, args.start, args.seed, args.duplicates, args.late)
        elif args.child == "bare":
            result = child_bare(args.home)
        elif args.child == "inspect":
            result = child_inspect(args.home)
        else:
            ranges = json.loads((args.home / "ranges.json").read_text())
            result = (child_consumer if args.child == "consumer" else child_profile)(args.home, ranges)
        print(json.dumps(result))
        return 0

    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=170)  # tables unwrapped in logs and pipes
    log = lambda message: console.log(message)  # noqa: E731
    bench_started = time.perf_counter()
    RESULTS.mkdir(parents=True, exist_ok=True)
    homes: list[Path] = []

    def home(label: str, stream_from: Path | None = None) -> Path:
        homes.append(_home(label, stream_from))
        return homes[-1]

    try:
        # ---------------------------------------------------------------- (a)
        log(f"(a) publishing {args.records:,} records ({args.rate}/s, {args.duplicates:.0%} retries, {args.late:.0%} late)")
        source = home("published")
        published = run_child("publish", source, *_publish_args(args.records, args.rate, START, 7, args))
        (source / "ranges.json").write_text(json.dumps(published["ranges"]))
        bare_samples, consumer_samples = [], []
        for i in range(args.repeats):
            log(f"(a) bare read {i + 1}/{args.repeats}")
            bare_samples.append(run_child("bare", home("bare", source)))
            log(f"(a) consumer (range asset via dagster.materialize) {i + 1}/{args.repeats}")
            consumer_home = home("consumer", source)
            shutil.copyfile(source / "ranges.json", consumer_home / "ranges.json")
            consumer_samples.append(run_child("consumer", consumer_home))
        bare, consumer = _best(bare_samples), _best(consumer_samples)
        profile = None
        if not args.skip_profile:
            log("(a) profile of the consumer's stages")
            profile_home = home("profile", source)
            shutil.copyfile(source / "ranges.json", profile_home / "ranges.json")
            profile = run_child("profile", profile_home)
        n = published["records"]
        accounting_ok = (bare["records"] == n == consumer.get("asset_records") == consumer["parquet_rows"]
                         + consumer.get("asset_rejected", 0) and consumer.get("asset_ranges") == len(published["ranges"]))
        ratio = consumer["seconds"] / bare["seconds"]

        # ---------------------------------------------------------------- (b)
        latency = None
        if not args.skip_latency:
            empties, firsts, seconds_ = [], [], []
            m = args.latency_records
            for i in range(args.e2e_repeats):
                log(f"(b) catch-up on an empty stream (fixed overhead) {i + 1}/{args.e2e_repeats}")
                empties.append(run_catch_up(home("empty")))
                log(f"(b) fresh home: publish {m:,} records, then catch-up {i + 1}/{args.e2e_repeats}")
                e2e_home = home("latency")
                batches = [(1, START, 11)] if args.skip_second_batch else [(1, START, 11), (2, START + timedelta(seconds=math.ceil(m / args.rate) + 1), 12)]
                done_runs = 0
                for number, start, seed in batches:
                    if number == 2:
                        log(f"(b) same home, second batch of {m:,} records, catch-up {i + 1}/{args.e2e_repeats}")
                    pub = run_child("publish", e2e_home, *_publish_args(m, args.rate, start, seed, args))
                    cu = run_catch_up(e2e_home)
                    inspect = run_child("inspect", e2e_home)
                    runs = inspect["runs"][done_runs:]
                    done_runs = len(inspect["runs"])
                    sample = {"published": {k: v for k, v in pub.items() if k != "ranges"}, "catch_up": cu,
                              **latency_breakdown(pub, cu, inspect, runs)}
                    (firsts if number == 1 else seconds_).append(sample)
            key = lambda s: s["publish_to_catch_up_exit"]  # noqa: E731
            latency = {"empty": _best(empties), "first": min(firsts, key=key),
                       "second": min(seconds_, key=key) if seconds_ else None,
                       "empty_samples": empties, "first_samples": firsts, "second_samples": seconds_}
    finally:
        if not args.keep_homes:
            for path in homes:
                shutil.rmtree(path, ignore_errors=True)
    bench_seconds = _seconds(bench_started)

    results = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "params": {k: (str(v) if isinstance(v, (Path, datetime)) else v) for k, v in vars(args).items()
                   if k not in ("child", "home", "start", "seed")},
        "machine": {"cpus": os.cpu_count(), "python": _platform.python_version(), "platform": _platform.platform()},
        "published": {k: v for k, v in published.items()},
        "consumer": consumer, "bare": bare, "consumer_samples": consumer_samples, "bare_samples": bare_samples,
        "consumer_records_per_second": n / consumer["seconds"],
        "bare_records_per_second": n / bare["seconds"],
        "ratio_consumer_vs_bare": ratio,
        "cpu_ratio_consumer_vs_bare": consumer["cpu_seconds"] / bare["cpu_seconds"],
        "accounting_ok": accounting_ok,
        "profile": profile,
        "latency": latency,
        "benchmark_seconds": bench_seconds,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1, default=str))

    # ---------------------------------------------------------------- tables
    def samples(items: list[dict], key: str = "seconds", fmt: str = "{:.2f}") -> str:
        return " ".join(fmt.format(x[key]) for x in items)

    mb = published["data_bytes"] / 1e6
    a = Table(title=f"(a) consumer vs bare read, best of {args.repeats} alternating - {n:,} records on {STREAM} "
                    f"({len(published['ranges'])} shards, {mb:.1f} MB of record data, "
                    f"{published['event_seconds']} s of event time at {args.rate}/s)")
    for col in ("", "consumer: range asset", "bare read (ref)", "ratio consumer/bare"):
        a.add_column(col, justify="left" if not col else "right")
    a.add_row("wall time (s)", f"{consumer['seconds']:.2f}", f"{bare['seconds']:.2f}", f"[bold]{ratio:.2f}x[/]")
    a.add_row("  samples (s)", samples(consumer_samples), samples(bare_samples), "")
    a.add_row("  load average after (1 min)", samples(consumer_samples, "loadavg_1m_after", "{:.1f}"),
              samples(bare_samples, "loadavg_1m_after", "{:.1f}"), "")
    a.add_row("[bold]records/s[/]", f"[bold]{n / consumer['seconds']:,.0f}[/]", f"[bold]{n / bare['seconds']:,.0f}[/]", "")
    a.add_row("MB/s of record data", f"{mb / consumer['seconds']:.1f}", f"{mb / bare['seconds']:.1f}", "")
    a.add_row("CPU time (s), user+sys, whole child", f"{consumer['cpu_seconds']:.2f}", f"{bare['cpu_seconds']:.2f}",
              f"{consumer['cpu_seconds'] / bare['cpu_seconds']:.2f}x")
    a.add_row("of which the asset's step (s)", f"{consumer['step_seconds']:.2f}" if consumer["step_seconds"] else "-", "-", "")
    a.add_row("run with no ranges: cold / warm (s)",
              f"{consumer['empty_run_seconds_cold']:.2f} / {consumer['empty_run_seconds_warm']:.2f}", "-", "")
    a.add_row("peak RSS (MB)", f"{_mb(consumer['peak_rss_kb']):.0f}", f"{_mb(bare['peak_rss_kb']):.0f}", "")
    a.add_row("  after imports (MB)", f"{_mb(consumer['baseline_rss_kb']):.0f}", f"{_mb(bare['baseline_rss_kb']):.0f}", "")
    a.add_row("records / rows / late / rejected",
              f"{consumer.get('asset_records', 0):,} / {consumer['parquet_rows']:,} / {consumer.get('asset_late', 0):,} / "
              f"{consumer.get('asset_rejected', 0):,}", f"{bare['records']:,}",
              "match" if accounting_ok else "[red]MISMATCH[/]")
    a.add_row("Parquet written (MB)", f"{consumer['parquet_bytes'] / 1e6:.1f} in {consumer['parquet_files']} files", "-", "")
    a.add_row("producer: put_records x500 (records/s)", "", "",
              f"{n / published['put_seconds']:,.0f} ({published['put_seconds']:.1f}s)")
    console.print(a)

    if profile:
        st, sub = profile["stages"], profile["sub"]
        body = sum(w for w, _ in st.values())
        p = Table(title=f"consumer profile: the asset's loop body replayed stage by stage ({profile['records']:,} records, one run)")
        for col in ("stage", "wall (s)", "CPU (s)", "share", "us/record"):
            p.add_column(col, justify="left" if col == "stage" else "right")

        def prow(label: str, pair, share: bool = True):
            wall, cpu = pair
            p.add_row(label, f"{wall:.2f}", f"{cpu:.2f}", f"{wall / body:.0%}" if share else "",
                      f"{wall / profile['records'] * 1e6:.1f}")

        prow("read_range (SQLite -> StreamRecord)", st["read"])
        prow("  of which bare store.read of the range", sub["bare_read"], False)
        prow("  of which SQLite fetch only (same SQL)", sub["sqlite_fetch"], False)
        prow("parse (REALTIME_RECORDS.parse)", st["parse"])
        prow("  parse_record alone (split, typing)", sub["parse_record"], False)
        prow(f"  user-agent decode alone ({profile['distinct_user_agents']} distinct)", sub["decode_ua"], False)
        prow("row tuples + watermark/late", st["rows"])
        prow("row dicts (dict(zip(names, row)))", st["dicts"])
        prow("pa.Table.from_pylist", st["from_pylist"])
        prow("Parquet write (zstd) + upload", st["write"])
        p.add_row("[bold]total[/]", f"{body:.2f}", f"{sum(c for _, c in st.values()):.2f}", "100%",
                  f"{body / profile['records'] * 1e6:.1f}")
        alt_parse, alt_build = sub["positional_parse"][0], sub["columns"][0]
        alt_body = body - st["parse"][0] + alt_parse - st["rows"][0] - st["dicts"][0] - st["from_pylist"][0] + alt_build
        same_parse = "identical" if profile["parse_alternatives_identical"] else "[red]DIFFERS[/]"
        if consumer["step_seconds"]:
            p.add_row("  (for comparison: the asset's step in (a), GC on)", f"{consumer['step_seconds']:.2f}", "", "",
                      f"{consumer['step_seconds'] / n * 1e6:.1f}")
        p.add_row("alternatives (bench only, not in shared code):", "", "", "", "")
        p.add_row("  parse, UA decode memoised", f"{sub['memo_parse'][0]:.2f}", f"{sub['memo_parse'][1]:.2f}",
                  f"{sub['memo_parse'][0] / st['parse'][0]:.0%} of parse", same_parse)
        p.add_row("  parse, positional split + memoised decode", f"{alt_parse:.2f}", f"{sub['positional_parse'][1]:.2f}",
                  f"{alt_parse / st['parse'][0]:.0%} of parse", same_parse)
        p.add_row("  rows straight into Arrow columns", f"{alt_build:.2f}", f"{sub['columns'][1]:.2f}",
                  f"{alt_build / (st['rows'][0] + st['dicts'][0] + st['from_pylist'][0]):.0%} of rows..from_pylist",
                  "identical" if profile["columns_identical"] else "[red]DIFFERS[/]")
        p.add_row("  body with positional parse + columns", f"{alt_body:.2f}", "", f"{alt_body / body:.0%}",
                  f"~{profile['records'] / alt_body:,.0f} rec/s")
        console.print(p)

    if latency:
        first, second, empty = latency["first"], latency["second"], latency["empty"]
        cols = [("fresh home, batch 1", first)] + ([("same home, batch 2", second)] if second else [])
        b = Table(title=f"(b) produce -> window latency: {args.latency_records:,} records, then `dataplatform catch-up` "
                        f"(best of {args.e2e_repeats})")
        b.add_column("")
        for name, _ in cols:
            b.add_column(name, justify="right")

        def brow(label: str, key: str, fmt: str = "{:.1f}"):
            b.add_row(label, *("-" if s.get(key) is None else fmt.format(s[key]) for _, s in cols))

        brow("[bold]end of publish -> mart materialised (s)[/]", "publish_to_mart_materialized")
        brow("end of publish -> catch-up exited (s)", "publish_to_catch_up_exit")
        brow("end of publish -> mart checked (s)", "publish_to_verified")
        brow("catch-up process, launch to exit (s)", "catch_up_seconds")
        b.add_row("  fixed overhead: catch-up, empty stream (s)", *(f"{empty['seconds']:.1f}" for _ in cols))
        b.add_row("  the rest (s)", *(f"{s['catch_up_seconds'] - empty['seconds']:.1f}" for _, s in cols))
        brow("    range run (s)", "range_run_seconds")
        brow("    downstream refresh run (s)", "refresh_run_seconds")
        brow("      user-agent dimension etc., before dbt (s)", "refresh_before_dbt_step")
        brow("      dagster-dbt before launching dbt (s)", "dbt_prepare_seconds")
        brow("      dbt start, parse, first node (s)", "dbt_start_to_first_result")
        brow("      dbt's other nodes: first to last result (s)", "dbt_first_to_last_result")
        brow("      after the last result (s)", "dbt_after_last_result")
        brow("    catch-up outside runs: start, defs, sensors (s)", "catch_up_outside_runs")
        b.add_row("CPU time, catch-up incl. dbt (s)", *(f"{s['catch_up']['cpu_seconds']:.1f}" for _, s in cols))
        b.add_row("peak RSS, largest process (MB)", *(f"{_mb(s['catch_up']['peak_rss_kb']):.0f}" for _, s in cols))
        b.add_row("runs / dbt invocations", *(f"{s['catch_up']['runs']} / {s['catch_up']['dbt_invocations']}" for _, s in cols))
        b.add_row("mart requests (tumbling) / expected",
                  *((f"{s['mart_requests']:,} / {s['expected_requests']:,} "
                     + ("ok" if s["mart_requests"] == s["expected_requests"] == s["mart_requests_at_exit"] else "[red]DIFFER[/]"))
                    for _, s in cols))
        b.add_row("load average after (1 min)", *(f"{s['catch_up']['loadavg_1m_after']:.1f}" for _, s in cols))
        console.print(b)
        console.print(f"empty-stream catch-up: {empty['summary_line']}; CPU {empty['cpu_seconds']:.1f}s")
    if not accounting_ok:
        console.print(f"[red]record accounting mismatch: published {n}, consumer {consumer}, bare {bare['records']}[/red]")
    console.print(f"benchmark {bench_seconds:.0f}s -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
