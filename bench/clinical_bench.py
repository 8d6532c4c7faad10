#!/usr/bin/env python
"""Clinical benchmark: end-to-end OMOP CDM build from a MIMIC-III delivery (issue 5), next to a
DuckDB reference measured in the same run on the same files.

    python bench/clinical_bench.py [--patients 10000] [--tiny-patients 50] [--seed 7]

(a) generation: `dataplatform sample mimic --patients N --seed S` as a child (timed, never part of
    another figure); source rows = sum of the manifest's rows.
(b) end to end: the delivery hard-linked into a fresh DATAPLATFORM_HOME, then `dataplatform catch-up`
    (subprocess, timed whole: Python, Dagster, sensor, raw load run, dbt build run). Split from the
    home's Dagster instance (run and step times, dagster-dbt's "Running/Finished dbt command" log
    lines) and dbt's run_results.json (node execution). The same on a tiny delivery gives the fixed
    cost, so marginal source rows/s = (rows_big - rows_tiny) / (T_big - T_tiny).
(c) reference (child, same files): DuckDB alone reading every delivered csv.gz with read_csv (the
    declared types) and writing each to zstd Parquet (the load floor), then a plain-SQL CDM core
    over that Parquet: every event table (diagnoses and procedures with their admission, lab, chart
    and prescription events) through the vocabulary seeds' source concept -> 'Maps to' lookup,
    counted by source and target domain.
(d) what was built: row counts of the CDM tables, DQ checks passed/failed (omop_results.omop_dq_results),
    dbt's PASS/WARN/ERROR line.
(e) memory: peak RSS of the catch-up child (os.wait4: the largest single process of its tree, dbt's
    subprocess included) and the peak of the whole tree's summed RSS, sampled from /proc.

Results: bench/results/clinical_bench.json. Homes live under a temporary directory (--workdir,
default the system's) and are removed unless --keep-homes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform as _platform  # stdlib (sys.path[0] is bench/, not the repo root)
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SEEDS = ROOT / "dbt_project" / "seeds" / "clinical"
TARGET = ROOT / "dbt_project" / "target"
LANDING = Path("lake") / "landing" / "clinical" / "mimic"
CDM_TABLES = ("person", "visit_occurrence", "condition_occurrence", "measurement", "drug_exposure", "observation",
              "procedure_occurrence", "observation_period")
# CDM event tables and the domain the reference's core query routes their events to.
DOMAIN_TABLES = {"condition_occurrence": "Condition", "measurement": "Measurement", "drug_exposure": "Drug",
                 "observation": "Observation", "procedure_occurrence": "Procedure"}
SUMMARY_LINE = re.compile(
    r"catch-up:\s+(?P<runs>\d+)\s+runs\s+\((?P<failed>\d+)\s+failed\).*?(?P<dbt>\d+)\s+dbt\s+invocations(?:\s+\(\d+\s+failed\))?,\s+"
    r"(?P<assets>\d+)\s+assets\s+materialised.*?\s+in\s+(?P<seconds>[\d.]+)s", re.DOTALL
)
DBT_FINISHED = re.compile(r"Finished running (?P<what>.*?) in .*?\((?P<seconds>[\d.]+)s\)")
DBT_DONE = re.compile(r"Done\. PASS=(?P<PASS>\d+) WARN=(?P<WARN>\d+) ERROR=(?P<ERROR>\d+) SKIP=(?P<SKIP>\d+)")


# ----------------------------------------------------------------------------- helpers


def _env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "DBT_TARGET", "DATAPLATFORM_ENV")}
    env.update(DATAPLATFORM_HOME=str(home), DATAPLATFORM_ENV="local", COLUMNS="400", NO_COLOR="1", TERM="dumb")
    return env


def _dataplatform_command() -> list[str]:
    script = Path(sys.executable).parent / "dataplatform"
    return [str(script)] if script.exists() else [sys.executable, "-m", "dataplatform.cli"]


def _delivery_dir(home: Path) -> Path:
    (manifest,) = sorted((home / LANDING).glob("*/manifest.json"))
    return manifest.parent


class TreeSampler(threading.Thread):
    """Polls /proc for the process tree under `pid`: the peak of the summed RSS, and per process its
    peak RSS and last-seen CPU time (a process's last interval before it exits is missed)."""

    def __init__(self, pid: int, interval: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.interval, self.stop = pid, interval, threading.Event()
        self.peak_tree_kb, self.procs = 0, {}
        self.ticks = os.sysconf("SC_CLK_TCK")

    def _children(self) -> dict[int, int]:
        parents = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                    parents[int(entry)] = int(stat[stat.rindex(")") + 2:].split()[1])
                except (OSError, ValueError, IndexError):
                    pass
        tree, frontier = {self.pid}, [self.pid]
        while frontier:
            parent = frontier.pop()
            for child, ppid in parents.items():
                if ppid == parent and child not in tree:
                    tree.add(child)
                    frontier.append(child)
        return tree

    def run(self) -> None:
        while not self.stop.is_set():
            total = 0
            for pid in self._children():
                try:
                    stat = Path(f"/proc/{pid}/stat").read_text()
                    fields = stat[stat.rindex(")") + 2:].split()
                    rss_kb = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") // 1024
                    cpu = (int(fields[11]) + int(fields[12])) / self.ticks
                    if pid not in self.procs:
                        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                        self.procs[pid] = {"cmd": " ".join(c.decode(errors="replace") for c in cmd[:3])[:160],
                                           "peak_rss_kb": 0, "cpu_seconds": 0.0}
                    proc = self.procs[pid]
                    proc["peak_rss_kb"] = max(proc["peak_rss_kb"], rss_kb)
                    proc["cpu_seconds"] = max(proc["cpu_seconds"], cpu)
                    total += rss_kb
                except (OSError, ValueError, IndexError):
                    pass
            self.peak_tree_kb = max(self.peak_tree_kb, total)
            self.stop.wait(self.interval)


def _timed_process(command: list[str], env: dict, stdout_path: Path, sample_tree: bool = False) -> dict:
    """Launch to exit, with the kernel's rusage of the child (its waited-for descendants included)."""
    with stdout_path.open("a") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        sampler = TreeSampler(proc.pid) if sample_tree else None
        if sampler:
            sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        if sampler:
            sampler.stop.set()
            sampler.join()
    result = {
        "seconds": seconds, "returncode": os.waitstatus_to_exitcode(status),
        "cpu_seconds": usage.ru_utime + usage.ru_stime, "user_seconds": usage.ru_utime, "sys_seconds": usage.ru_stime,
        "peak_rss_kb": usage.ru_maxrss, "loadavg_1m_after": os.getloadavg()[0],
    }
    if sampler:
        result["peak_tree_rss_kb"] = sampler.peak_tree_kb
        result["processes"] = sorted(sampler.procs.values(), key=lambda p: -p["cpu_seconds"])[:6]
    return result


def run_child(kind: str, env: dict, *extra: str) -> dict:
    """One untimed-from-outside measurement in a fresh process; adds its rusage (wait4)."""
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        proc = subprocess.Popen([sys.executable, __file__, "--child", kind, *extra], stdout=stdout, stderr=stderr,
                                cwd=ROOT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        stdout.seek(0)
        stderr.seek(0)
        if os.waitstatus_to_exitcode(status):
            raise RuntimeError(f"{kind} child failed:\n{stderr.read()[-4000:]}")
        result = json.loads(stdout.read().strip().splitlines()[-1])
    result["peak_rss_kb"] = usage.ru_maxrss
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    result["loadavg_1m_after"] = os.getloadavg()[0]
    return result


# ----------------------------------------------------------------------------- (a) generation


def generate(workdir: Path, patients: int, seed: int) -> dict:
    """`dataplatform sample mimic` into its own home, timed as a whole process."""
    home = Path(tempfile.mkdtemp(prefix=f"clinical-source-{patients}-", dir=workdir))
    run = _timed_process([*_dataplatform_command(), "sample", "mimic", "--patients", str(patients), "--seed", str(seed)],
                         _env(home), home / "sample.out")
    if run["returncode"]:
        raise RuntimeError(f"sample failed:\n{(home / 'sample.out').read_text()[-4000:]}")
    delivery = _delivery_dir(home)
    manifest = json.loads((delivery / "manifest.json").read_text())
    tables = {t: e["rows"] for t, e in manifest["tables"].items()}
    files = [delivery / Path(e["key"]).name for e in manifest["tables"].values()]
    return {
        "home": str(home), "delivery": str(delivery), "delivery_id": manifest["delivery_id"], "patients": patients,
        "seed": seed, "tables": tables, "source_rows": sum(tables.values()), "files": len(files),
        "gz_bytes": sum(p.stat().st_size for p in files), "generation": run,
    }


# ----------------------------------------------------------------------------- (b) catch-up


def run_catch_up(source: dict, workdir: Path, label: str, keep: bool) -> dict:
    home = Path(tempfile.mkdtemp(prefix=f"clinical-e2e-{label}-", dir=workdir))
    try:
        # The delivery as `dataplatform sample` wrote it (hard links; nothing writes into landing).
        shutil.copytree(Path(source["home"]) / "lake" / "landing", home / "lake" / "landing", copy_function=os.link)
        env = _env(home)
        run = _timed_process([*_dataplatform_command(), "catch-up"], env, home / "catch-up.out", sample_tree=True)
        output = (home / "catch-up.out").read_text()
        match = SUMMARY_LINE.search(output)
        if run["returncode"] or not match:
            raise RuntimeError(f"catch-up failed ({run['returncode']}) in {home}:\n{output[-4000:]}")
        run.update(runs=int(match["runs"]), failed_runs=int(match["failed"]), dbt_invocations=int(match["dbt"]),
                   assets_materialised=int(match["assets"]), catch_up_reported_seconds=float(match["seconds"]))
        dbt_log = (home / "catch-up.log").read_text() if (home / "catch-up.log").exists() else ""
        finished, done = DBT_FINISHED.search(dbt_log), DBT_DONE.search(dbt_log)
        run["dbt_log_finished_seconds"] = float(finished["seconds"]) if finished else None
        run["dbt_log_finished_what"] = finished["what"] if finished else None
        run["dbt_done"] = {k: int(v) for k, v in done.groupdict().items()} if done else None
        reparse = re.search(r"Unable to do partial parsing because (.*)", dbt_log)
        run["dbt_full_parse_reason"] = reparse[1].strip() if reparse else None
        run["inspect"] = run_child("inspect", env)
        run["split"] = split(run)
        run["home"] = str(home) if keep else None
        return run
    finally:
        if not keep:
            shutil.rmtree(home, ignore_errors=True)


def child_inspect() -> dict:
    """Untimed, in the home just caught up: its Dagster runs and what the clinical warehouse holds."""
    import dagster as dg
    import duckdb
    from dataplatform import settings
    from assets.clinical.format import warehouse_path as clinical_warehouse_path

    settings.ensure_dagster_home()
    runs = []
    with dg.DagsterInstance.get() as instance:
        for run in reversed(instance.get_runs()):  # oldest first
            stats = instance.get_run_stats(run.run_id)
            info = {"run_id": run.run_id, "status": run.status.value, "start": stats.start_time, "end": stats.end_time,
                    "assets": len(run.asset_selection or ()), "steps": {}, "row_counts": {}}
            for step in instance.get_run_step_stats(run.run_id):
                if step.start_time and step.end_time:
                    info["steps"][step.step_key] = step.end_time - step.start_time
            for entry in instance.all_logs(run.run_id):
                message, event = entry.user_message or "", entry.dagster_event
                if message.startswith("Running dbt command"):
                    info["dbt_launched"] = entry.timestamp
                elif message.startswith("Finished dbt command"):
                    info["dbt_finished"] = entry.timestamp
                elif event and event.event_type_value == "ASSET_MATERIALIZATION":
                    metadata = event.event_specific_data.materialization.metadata
                    if "dagster/row_count" in metadata:
                        info["row_counts"][event.asset_key.to_user_string()] = metadata["dagster/row_count"].value
            results = sorted(TARGET.glob(f"*-{run.run_id[:7]}-*/run_results.json"))
            if results:
                info["dbt_nodes"] = _dbt_nodes(results[-1])
            runs.append(info)

    warehouse = {}
    path = clinical_warehouse_path()
    if path.exists():
        with duckdb.connect(str(path), read_only=True) as con:
            warehouse["cdm_rows"] = {t: con.execute(f"select count(*) from omop_cdm.{t}").fetchone()[0] for t in CDM_TABLES}
            passed, failed, total = con.execute(
                "select count(*) filter (where passed), count(*) filter (where not passed), count(*) "
                "from omop_results.omop_dq_results").fetchone()
            warehouse["dq"] = {"passed": passed, "failed": failed, "total": total, "failing": [
                {"test": r[0], "pct_violated": r[1], "threshold_pct": r[2], "severity": r[3]}
                for r in con.execute("select test_name, pct_violated, threshold_pct, severity "
                                     "from omop_results.omop_dq_results where not passed order by test_name").fetchall()]}
            warehouse["size_bytes"] = path.stat().st_size
    return {"runs": runs, "warehouse": warehouse}


def _dbt_nodes(path: Path) -> dict:
    """dbt's own timings: node execution wall (elapsed), thread-seconds per resource type, slowest nodes."""
    data = json.loads(path.read_text())
    by_type: dict[str, float] = {}
    nodes = []
    for result in data["results"]:
        kind = result["unique_id"].split(".", 1)[0]
        by_type[kind] = by_type.get(kind, 0.0) + result["execution_time"]
        nodes.append((result["execution_time"], result["unique_id"].split(".")[-1 if kind != "test" else 2]))
    return {"elapsed": data["elapsed_time"], "nodes": len(data["results"]),
            "thread_seconds_by_type": {k: round(v, 2) for k, v in sorted(by_type.items())},
            "slowest": [{"node": name, "seconds": round(s, 2)} for s, name in sorted(nodes, reverse=True)[:8]]}


def split(run: dict) -> dict:
    """Where the catch-up wall time went: raw load run, dbt run (and inside it the dbt process,
    dbt's node execution), and the rest (Python start, definitions, sensor ticks)."""
    runs = run["inspect"]["runs"]
    raw = next((r for r in runs if "clinical_raw" in r["steps"]), None)
    dbt = next((r for r in runs if "dbt_launched" in r), None)
    out: dict = {}
    if raw:
        out["raw_run_seconds"] = raw["end"] - raw["start"]
        out["raw_step_seconds"] = raw["steps"]["clinical_raw"]
        out["raw_rows_loaded"] = sum(v for k, v in raw["row_counts"].items() if k != "raw/clinical/mimic_rejects")
        out["raw_rows_rejected"] = raw["row_counts"].get("raw/clinical/mimic_rejects")
    if dbt:
        out["dbt_run_seconds"] = dbt["end"] - dbt["start"]
        out["dbt_step_seconds"] = next(iter(dbt["steps"].values()), None)
        out["dbt_prepare_seconds"] = dbt["dbt_launched"] - dbt["start"]  # resources, selection, manifest copy
        if "dbt_finished" in dbt:
            out["dbt_process_seconds"] = dbt["dbt_finished"] - dbt["dbt_launched"]
        nodes = dbt.get("dbt_nodes")
        if nodes:
            out["dbt_nodes_seconds"] = nodes["elapsed"]
            if "dbt_process_seconds" in out:
                out["dbt_startup_parse_seconds"] = out["dbt_process_seconds"] - nodes["elapsed"]
    out["runs_seconds"] = sum(r["end"] - r["start"] for r in runs)
    out["outside_runs_seconds"] = run["seconds"] - out["runs_seconds"]
    return out


# ----------------------------------------------------------------------------- (c) reference


def _csv_source(path: Path, columns: dict[str, str]) -> str:
    typed = ", ".join(f"'{name}': '{kind}'" for name, kind in columns.items())
    return (f"read_csv('{path}', header = true, columns = {{{typed}}}, auto_detect = false, quote = '\"', "
            "escape = '\"', nullstr = '')")


CORE_SQL = """
with
concept as (select * from read_csv('{seeds}/vocab_concept.csv', header = true, all_varchar = true)),
relationship as (select * from read_csv('{seeds}/vocab_concept_relationship.csv', header = true, all_varchar = true)),
maps as (
    select s.vocabulary_id, s.concept_code, coalesce(t.concept_id, '0') as target_concept_id,
           coalesce(t.domain_id, s.domain_id) as target_domain_id
    from concept s
    left join relationship r on r.concept_id_1 = s.concept_id and r.relationship_id = 'Maps to' and r.invalid_reason is null
    left join concept t on t.concept_id = r.concept_id_2 and t.standard_concept = 'S' and t.invalid_reason is null
    where s.vocabulary_id in ('ICD9CM', 'ICD9Proc', 'MIMIC d_labitems', 'MIMIC d_items', 'MIMIC drugs')
),
adm as (select hadm_id, admittime from '{pq}/ADMISSIONS.parquet'),
events as (
    select 'diagnoses_icd' as src, 'ICD9CM' as vocabulary_id, 'Condition' as default_domain, d.subject_id, a.admittime as start,
           case when icd9_code like 'E%' and length(icd9_code) > 4 then icd9_code[1:4] || '.' || icd9_code[5:]
                when icd9_code not like 'E%' and length(icd9_code) > 3 then icd9_code[1:3] || '.' || icd9_code[4:]
                else icd9_code end as code
    from '{pq}/DIAGNOSES_ICD.parquet' d left join adm a using (hadm_id)
    union all
    select 'procedures_icd', 'ICD9Proc', 'Procedure', p.subject_id, a.admittime,
           case when length(icd9_code) > 2 then icd9_code[1:2] || '.' || icd9_code[3:] else icd9_code end
    from '{pq}/PROCEDURES_ICD.parquet' p left join adm a using (hadm_id)
    union all
    select 'labevents', 'MIMIC d_labitems', 'Measurement', subject_id, charttime, cast(itemid as varchar)
    from '{pq}/LABEVENTS.parquet'
    union all
    select 'chartevents', 'MIMIC d_items', 'Measurement', subject_id, charttime, cast(itemid as varchar)
    from '{pq}/CHARTEVENTS.parquet' where coalesce(error, 0) = 0
    union all
    select 'prescriptions', 'MIMIC drugs', 'Drug', subject_id, startdate, formulary_drug_cd
    from '{pq}/PRESCRIPTIONS.parquet'
)
select src, coalesce(m.target_domain_id, e.default_domain) as domain_id, count(*) as n,
       count(*) filter (where m.target_concept_id is not null and m.target_concept_id <> '0') as mapped
from events e
left join maps m on m.vocabulary_id = e.vocabulary_id and m.concept_code = e.code
group by all order by all
"""

DIAGNOSES_SQL = """
select count(*), count(t.concept_id)
from '{pq}/DIAGNOSES_ICD.parquet' d
join '{pq}/ADMISSIONS.parquet' a using (hadm_id)
left join (select * from read_csv('{seeds}/vocab_concept.csv', header = true, all_varchar = true)
           where vocabulary_id = 'ICD9CM') s
  on s.concept_code = case when d.icd9_code like 'E%' and length(d.icd9_code) > 4
                           then d.icd9_code[1:4] || '.' || d.icd9_code[5:]
                           when d.icd9_code not like 'E%' and length(d.icd9_code) > 3
                           then d.icd9_code[1:3] || '.' || d.icd9_code[4:] else d.icd9_code end
left join read_csv('{seeds}/vocab_concept_relationship.csv', header = true, all_varchar = true) r
  on r.concept_id_1 = s.concept_id and r.relationship_id = 'Maps to'
left join read_csv('{seeds}/vocab_concept.csv', header = true, all_varchar = true) t
  on t.concept_id = r.concept_id_2 and t.standard_concept = 'S' and t.domain_id = 'Condition'
"""


def child_reference(delivery: Path, out: Path, threads: int) -> dict:
    """Load floor (each csv.gz -> typed zstd Parquet, one COPY per table, in manifest order) and the
    plain-SQL CDM core over that Parquet. Timed inside the child, imports excluded."""
    import duckdb

    from assets.clinical.format import TABLES

    manifest = json.loads((delivery / "manifest.json").read_text())
    con = duckdb.connect(config={"threads": threads})
    per_table = {}
    started = time.perf_counter()
    for table, entry in manifest["tables"].items():
        t = time.perf_counter()
        con.execute(f"copy (select * from {_csv_source(delivery / Path(entry['key']).name, TABLES[table])}) "
                    f"to '{out}/{table}.parquet' (format parquet, compression zstd)")
        per_table[table] = time.perf_counter() - t
    load_seconds = time.perf_counter() - started
    pq, seeds = str(out), str(SEEDS)
    t = time.perf_counter()
    core = con.execute(CORE_SQL.format(pq=pq, seeds=seeds)).fetchall()
    core_seconds = time.perf_counter() - t
    t = time.perf_counter()
    diagnoses = con.execute(DIAGNOSES_SQL.format(pq=pq, seeds=seeds)).fetchone()
    diagnoses_seconds = time.perf_counter() - t
    rows = {table: con.execute(f"select count(*) from '{out}/{table}.parquet'").fetchone()[0] for table in per_table}
    return {
        "load_seconds": load_seconds, "core_seconds": core_seconds, "diagnoses_join_seconds": diagnoses_seconds,
        "seconds": load_seconds + core_seconds,
        "load_seconds_by_table": {k: round(v, 3) for k, v in sorted(per_table.items(), key=lambda kv: -kv[1])},
        "rows": rows, "rows_match_manifest": all(rows[t] == e["rows"] for t, e in manifest["tables"].items()),
        "parquet_bytes": sum(p.stat().st_size for p in out.glob("*.parquet")),
        "core": [{"source": r[0], "domain_id": r[1], "rows": r[2], "mapped": r[3]} for r in core],
        "diagnoses_join": {"rows": diagnoses[0], "mapped_to_condition": diagnoses[1]},
        "duckdb_threads": con.execute("select current_setting('threads')").fetchone()[0],
    }


def run_reference(source: dict, workdir: Path, threads: int) -> dict:
    out = Path(tempfile.mkdtemp(prefix="clinical-ref-", dir=workdir))
    try:
        env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "DATAPLATFORM_HOME")}
        return run_child("reference", env, "--delivery", source["delivery"], "--out", str(out), "--threads", str(threads))
    finally:
        shutil.rmtree(out, ignore_errors=True)


# ----------------------------------------------------------------------------- report


def _dbt_cpu(run: dict) -> float | None:
    """CPU of the `dbt build` process as last sampled from /proc (its final interval is missed)."""
    return next((p["cpu_seconds"] for p in run.get("processes") or () if " build" in p["cmd"] and "dbt" in p["cmd"]), None)


def _domain_totals(ref: dict) -> dict[str, int]:
    totals: dict[str, int] = {}
    for row in ref["core"]:
        totals[row["domain_id"]] = totals.get(row["domain_id"], 0) + row["rows"]
    return totals


def _best(samples: list[dict], key: str = "seconds") -> dict:
    return min(samples, key=lambda s: s[key])


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--tiny-patients", type=int, default=50, help="delivery that measures the fixed cost")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3, help="reference runs, best taken")
    parser.add_argument("--e2e-repeats", type=int, default=2, help="alternating tiny/big catch-ups, best taken")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2, help="DuckDB threads of the reference")
    parser.add_argument("--workdir", type=Path, default=None, help="where the temporary homes go (default: system temp)")
    parser.add_argument("--keep-homes", action="store_true", help="keep the homes (source deliveries and catch-ups)")
    parser.add_argument("--output", type=Path, default=RESULTS / "clinical_bench.json")
    parser.add_argument("--child", choices=("inspect", "reference"), help=argparse.SUPPRESS)
    parser.add_argument("--delivery", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child == "inspect":
        print(json.dumps(child_inspect(), default=str))
        return 0
    if args.child == "reference":
        print(json.dumps(child_reference(args.delivery, args.out, args.threads)))
        return 0

    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=170)
    log = lambda message: console.log(message)
    bench_started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="clinical-bench-", dir=args.workdir))
    try:
        # (a) generation, big then tiny.
        log(f"(a) dataplatform sample mimic --patients {args.patients:,} --seed {args.seed}")
        big = generate(workdir, args.patients, args.seed)
        log(f"(a) dataplatform sample mimic --patients {args.tiny_patients:,} --seed {args.seed}")
        tiny = generate(workdir, args.tiny_patients, args.seed)
        for source in (big, tiny):
            for path in Path(source["delivery"]).iterdir():
                path.read_bytes()  # page cache warm for every measurement alike

        # (c) reference, best of --repeats, on each delivery.
        ref_samples, ref_tiny_samples = [], []
        for i in range(args.repeats):
            log(f"(c) reference: DuckDB read_csv -> Parquet + CDM core SQL {i + 1}/{args.repeats}")
            ref_samples.append(run_reference(big, workdir, args.threads))
            ref_tiny_samples.append(run_reference(tiny, workdir, args.threads))
        ref, ref_tiny = _best(ref_samples), _best(ref_tiny_samples)

        # (b) end to end, tiny and big alternating.
        tiny_runs, big_runs = [], []
        for i in range(args.e2e_repeats):
            log(f"(b) catch-up, {args.tiny_patients:,} patients {i + 1}/{args.e2e_repeats}")
            tiny_runs.append(run_catch_up(tiny, workdir, "tiny", args.keep_homes))
            log(f"(b) catch-up, {args.patients:,} patients {i + 1}/{args.e2e_repeats}")
            big_runs.append(run_catch_up(big, workdir, "big", args.keep_homes))
        t_tiny, t_big = _best(tiny_runs), _best(big_runs)
    finally:
        if not args.keep_homes:
            shutil.rmtree(workdir, ignore_errors=True)

    rows, rows_tiny = big["source_rows"], tiny["source_rows"]
    d_rows = rows - rows_tiny
    sb, st = t_big["split"], t_tiny["split"]

    def marginal(key: str, a: dict, b: dict) -> float | None:
        if a.get(key) is None or b.get(key) is None or a[key] <= b[key]:
            return None
        return d_rows / (a[key] - b[key])

    def noisy(key: str) -> bool:
        """The big - tiny difference is within twice the spread of repeated samples (or there is one sample)."""
        spread = max(max(r[key] for r in runs) - min(r[key] for r in runs) for runs in (tiny_runs, big_runs))
        return len(tiny_runs) < 2 or t_big[key] - t_tiny[key] <= 2 * spread

    e2e = {
        "marginal_wall_within_noise": noisy("seconds"),
        "marginal_cpu_within_noise": noisy("cpu_seconds"),
        "seconds": t_big["seconds"], "cpu_seconds": t_big["cpu_seconds"],
        "fixed_seconds": t_tiny["seconds"], "fixed_cpu_seconds": t_tiny["cpu_seconds"],
        "rows_per_second": rows / t_big["seconds"],
        "marginal_rows_per_second": marginal("seconds", t_big, t_tiny),
        "marginal_rows_per_cpu_second": marginal("cpu_seconds", t_big, t_tiny),
        "raw_marginal_rows_per_second": marginal("raw_run_seconds", sb, st),
        "dbt_marginal_rows_per_second": marginal("dbt_run_seconds", sb, st),
        "dbt_nodes_marginal_rows_per_second": marginal("dbt_nodes_seconds", sb, st),
        "reference_rows_per_second": rows / ref["seconds"],
        "reference_marginal_rows_per_second": marginal("seconds", ref, ref_tiny),
        "ratio_total_vs_reference": _ratio(t_big["seconds"], ref["seconds"]),
        "ratio_marginal_vs_reference": _ratio(t_big["seconds"] - t_tiny["seconds"], ref["seconds"] - ref_tiny["seconds"])
        if t_big["seconds"] > t_tiny["seconds"] and ref["seconds"] > ref_tiny["seconds"] else None,
        "ratio_cpu_vs_reference": _ratio(t_big["cpu_seconds"], ref["cpu_seconds"]),
        "ratio_raw_run_vs_load_floor": _ratio(sb.get("raw_run_seconds"), ref["load_seconds"]),
        "ratio_raw_step_vs_load_floor": _ratio(sb.get("raw_step_seconds"), ref["load_seconds"]),
        "ratio_dbt_run_vs_core": _ratio(sb.get("dbt_run_seconds"), ref["core_seconds"]),
        "cdm_rows_match_reference_core": {t: t_big["inspect"]["warehouse"]["cdm_rows"][t] == _domain_totals(ref).get(d, 0)
                                          for t, d in DOMAIN_TABLES.items()},
        "ratio_dbt_nodes_marginal_vs_core_marginal": _ratio(
            (sb.get("dbt_nodes_seconds") or 0) - (st.get("dbt_nodes_seconds") or 0), ref["core_seconds"] - ref_tiny["core_seconds"]),
    }
    results = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "params": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                   if k not in ("child", "delivery", "out")},
        "machine": {"cpus": os.cpu_count(), "python": _platform.python_version(), "platform": _platform.platform()},
        "sources": {"big": big, "tiny": tiny},
        "catch_up": {"big": t_big, "tiny": t_tiny, "big_samples": big_runs, "tiny_samples": tiny_runs},
        "reference": {"big": ref, "tiny": ref_tiny, "big_samples": ref_samples, "tiny_samples": ref_tiny_samples},
        "end_to_end": e2e,
        "benchmark_seconds": time.perf_counter() - bench_started,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1, default=str))

    # ---- tables
    def f(value, fmt="{:.2f}"):
        return "-" if value is None else fmt.format(value)

    def x(value):
        return "-" if value is None else f"{value:.1f}x"

    mb = lambda kb: f"{kb / 1024:.0f}"
    title = (f"{args.patients:,} patients (seed {args.seed}): {rows:,} source rows in {big['files']} files, "
             f"{big['gz_bytes'] / 1e6:.1f} MB gz; fixed cost from {args.tiny_patients} patients ({rows_tiny:,} rows)")
    a = Table(title=f"clinical CDM build - {title}")
    for col, justify in (("", "left"), ("tiny", "right"), ("big", "right"), ("DuckDB ref (big)", "right"), ("ratio big/ref", "right")):
        a.add_column(col, justify=justify)
    gb, gt = big["generation"], tiny["generation"]
    a.add_row("generation: sample mimic wall / CPU (s)", f"{gt['seconds']:.1f} / {gt['cpu_seconds']:.1f}",
              f"{gb['seconds']:.1f} / {gb['cpu_seconds']:.1f}", "", "")
    a.add_row("source rows (manifest)", f"{rows_tiny:,}", f"{rows:,}", f"{sum(ref['rows'].values()):,}",
              "match" if ref["rows_match_manifest"] else "[red]DIFFER[/]")
    a.add_row("[b]catch-up wall (s)[/b]", f"{t_tiny['seconds']:.1f}", f"[b]{t_big['seconds']:.1f}[/b]", f"{ref['seconds']:.2f}",
              x(e2e["ratio_total_vs_reference"]))
    if args.e2e_repeats > 1:
        a.add_row("  samples (s)", " ".join(f"{s['seconds']:.1f}" for s in tiny_runs),
                  " ".join(f"{s['seconds']:.1f}" for s in big_runs), " ".join(f"{s['seconds']:.2f}" for s in ref_samples), "")
    a.add_row("catch-up CPU user+sys (s), dbt included", f"{t_tiny['cpu_seconds']:.1f}", f"{t_big['cpu_seconds']:.1f}",
              f"{ref['cpu_seconds']:.2f}", x(e2e["ratio_cpu_vs_reference"]))
    a.add_row("  of which the dbt build process (sampled)", *(f(_dbt_cpu(r), "{:.1f}") for r in (t_tiny, t_big)), "", "")
    a.add_row("  load average after (1 min)", f"{t_tiny['loadavg_1m_after']:.1f}", f"{t_big['loadavg_1m_after']:.1f}",
              f"{ref['loadavg_1m_after']:.1f}", "")
    a.add_row("  raw load run (s) [step]", f"{f(st.get('raw_run_seconds'))} [{f(st.get('raw_step_seconds'))}]",
              f"{f(sb.get('raw_run_seconds'))} [{f(sb.get('raw_step_seconds'))}]",
              f"{ref['load_seconds']:.2f} load floor", x(e2e["ratio_raw_run_vs_load_floor"]))
    a.add_row("  dbt build run (s)", f(st.get("dbt_run_seconds")), f(sb.get("dbt_run_seconds")),
              f"{ref['core_seconds']:.2f} core SQL", x(e2e["ratio_dbt_run_vs_core"]))
    a.add_row("    before dbt process (selection, manifest)", f(st.get("dbt_prepare_seconds")), f(sb.get("dbt_prepare_seconds")), "", "")
    a.add_row("    dbt process: start + parse", f(st.get("dbt_startup_parse_seconds")), f(sb.get("dbt_startup_parse_seconds")), "", "")
    a.add_row("    dbt process: nodes (run_results elapsed)", f(st.get("dbt_nodes_seconds")), f(sb.get("dbt_nodes_seconds")),
              "", "")
    if any(r.get("dbt_log_finished_seconds") != s.get("dbt_nodes_seconds") for r, s in ((t_tiny, st), (t_big, sb))):
        a.add_row("    dbt log 'Finished running ... in' (s)", f(t_tiny.get("dbt_log_finished_seconds")),
                  f(t_big.get("dbt_log_finished_seconds")), "", "")
    a.add_row("  outside runs: Python, Dagster, sensors (s)", f(st.get("outside_runs_seconds")), f(sb.get("outside_runs_seconds")),
              "", "")
    a.add_row("[b]source rows/s overall[/b]", f"{rows_tiny / t_tiny['seconds']:,.0f}", f"[b]{e2e['rows_per_second']:,.0f}[/b]",
              f"{e2e['reference_rows_per_second']:,.0f}", "")
    warn = lambda flag: " [yellow](within noise)[/]" if flag else ""
    a.add_row("[b]source rows/s marginal (big - tiny)[/b]", "",
              f(e2e["marginal_rows_per_second"], "[b]{:,.0f}[/b]") + warn(e2e["marginal_wall_within_noise"]),
              f(e2e["reference_marginal_rows_per_second"], "{:,.0f}"), x(e2e["ratio_marginal_vs_reference"]))
    a.add_row("  marginal rows per CPU second", "",
              f(e2e["marginal_rows_per_cpu_second"], "{:,.0f}") + warn(e2e["marginal_cpu_within_noise"]), "", "")
    a.add_row("  raw load run / dbt run / dbt nodes marginal rows/s", "",
              " / ".join(f(e2e[k], "{:,.0f}") for k in ("raw_marginal_rows_per_second", "dbt_marginal_rows_per_second",
                                                         "dbt_nodes_marginal_rows_per_second")), "", "")
    a.add_row("peak RSS (MB): largest process (wait4)", mb(t_tiny["peak_rss_kb"]), mb(t_big["peak_rss_kb"]), mb(ref["peak_rss_kb"]), "")
    a.add_row("peak RSS (MB): whole tree, sampled", mb(t_tiny["peak_tree_rss_kb"]), mb(t_big["peak_tree_rss_kb"]), "", "")
    wb, wt = t_big["inspect"]["warehouse"], t_tiny["inspect"]["warehouse"]
    ref_domains = _domain_totals(ref)
    for table in CDM_TABLES:
        domain = DOMAIN_TABLES.get(table)
        expected = ref_domains.get(domain, 0) if domain else None
        check = "" if expected is None else ("= ref core" if expected == wb["cdm_rows"][table] else "[yellow]differs[/]")
        a.add_row(f"omop_cdm.{table} rows", f"{wt['cdm_rows'][table]:,}", f"{wb['cdm_rows'][table]:,}",
                  "" if expected is None else f"{expected:,} {domain} events", check)
    a.add_row("DQ checks passed / failed (omop_dq_results)", f"{wt['dq']['passed']} / {wt['dq']['failed']}",
              f"{wb['dq']['passed']} / {wb['dq']['failed']}", "", "")
    done = lambda r: " ".join(f"{k}={v}" for k, v in (r["dbt_done"] or {}).items())
    a.add_row("dbt tests/nodes", done(t_tiny), done(t_big), "", "")
    a.add_row("runs / dbt invocations / assets", *(f"{r['runs']} / {r['dbt_invocations']} / {r['assets_materialised']}"
                                                   for r in (t_tiny, t_big)), "", "")
    a.add_row("raw rows loaded / rejected", f"{st.get('raw_rows_loaded', 0):,} / {st.get('raw_rows_rejected')}",
              f"{sb.get('raw_rows_loaded', 0):,} / {sb.get('raw_rows_rejected')}", "", "")
    console.print(a)

    r = Table(title=f"reference (best of {args.repeats}): DuckDB alone, threads={ref['duckdb_threads']}")
    for col in ("", "tiny", "big"):
        r.add_column(col, justify="left" if not col else "right")
    r.add_row("load floor: read_csv typed -> zstd Parquet, per table (s)", f"{ref_tiny['load_seconds']:.2f}", f"{ref['load_seconds']:.2f}")
    r.add_row("  slowest tables (s)", "", ", ".join(f"{k} {v:.2f}" for k, v in list(ref["load_seconds_by_table"].items())[:3]))
    r.add_row("CDM core: 5 event tables -> Maps to -> count by domain (s)", f"{ref_tiny['core_seconds']:.3f}", f"{ref['core_seconds']:.3f}")
    r.add_row("diagnoses x admissions x concept map -> count (s)", f"{ref_tiny['diagnoses_join_seconds']:.3f}",
              f"{ref['diagnoses_join_seconds']:.3f}")
    r.add_row("  joined rows (a code may map to several) / to a standard Condition", "",
              f"{ref['diagnoses_join']['rows']:,} / {ref['diagnoses_join']['mapped_to_condition']:,}")
    r.add_row("CPU user+sys (s) / peak RSS (MB)", f"{ref_tiny['cpu_seconds']:.2f} / {mb(ref_tiny['peak_rss_kb'])}",
              f"{ref['cpu_seconds']:.2f} / {mb(ref['peak_rss_kb'])}")
    domains = _domain_totals(ref)
    r.add_row("core events by domain", "", ", ".join(f"{k} {v:,}" for k, v in sorted(domains.items())))
    console.print(r)

    nodes = (t_big["inspect"]["runs"] and next((x.get("dbt_nodes") for x in t_big["inspect"]["runs"] if x.get("dbt_nodes")), None))
    if nodes:
        console.print(f"  dbt ({args.patients:,} patients): {nodes['nodes']} nodes, thread-seconds by type "
                      f"{nodes['thread_seconds_by_type']}; slowest: "
                      + ", ".join(f"{n['node']} {n['seconds']:.1f}s" for n in nodes["slowest"]))
    if t_big.get("dbt_full_parse_reason"):
        console.print(f"  dbt parsed the project in full (not partially): {t_big['dbt_full_parse_reason']}")
    procs = t_big.get("processes") or []
    if procs:
        console.print("  catch-up tree (sampled, CPU s / peak MB): "
                      + "; ".join(f"{p['cmd'].split('/')[-1][:60]} {p['cpu_seconds']:.1f} / {mb(p['peak_rss_kb'])}" for p in procs[:3]))
    if wb["dq"]["failing"]:
        console.print("  failing DQ checks: " + ", ".join(c["test"] for c in wb["dq"]["failing"][:10]))
    console.print(f"benchmark {results['benchmark_seconds']:.0f}s -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
