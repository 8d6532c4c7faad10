"""Fixed overhead of a catch-up in a warm home, against the floor of the stack (issue 13, 1-2).

    python bench/overhead_bench.py [--repeats 3] [--lines 2000]

One home is warmed once (a first hour of CloudFront files, then `dataplatform catch-up`).
Then, alternating, each repeat measures as child processes on the same machine:

- **floor** (the reference): `python -c` importing dagster and dbt (dagster_dbt, dbt's CLI
  entry point) and opening the home's warehouse (DuckDB, read-only) - what any process of this
  stack pays before doing anything;
- **nothing new**: `dataplatform catch-up` with nothing landed since the last one;
- **one new hour**: a new hour of CloudFront files (generated beforehand, copied in untimed),
  then `dataplatform catch-up`: its raw run over that hour and the refresh of its marts;
- **demo**: the README's main job, `dataplatform demo`, in a fresh home each time (target:
  <= 30 s on these machines; `--demo-repeats 0` skips it).

Reports medians, each divided by the floor's median (targets: one new hour <= 2.5x, nothing
new <= 1.5x), and dbt's own node time of the refresh (`Finished running ... in N s` in the
home's catch-up.log). Writes bench/results/overhead.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
START = datetime(2026, 11, 24, tzinfo=timezone.utc)
FLOOR = (
    "import dagster, dagster_dbt, dbt.cli.main, duckdb, sys; "
    "duckdb.connect(sys.argv[1], read_only=True).execute('select 1').fetchall()"
)


def env_for(home: Path) -> dict:
    env = {**os.environ, "DATAPLATFORM_HOME": str(home), "DATAPLATFORM_ENV": "local"}
    env.pop("DAGSTER_HOME", None)
    return env


def timed(args: list[str], home: Path) -> float:
    started = time.perf_counter()
    subprocess.run(args, env=env_for(home), check=True, stdout=subprocess.DEVNULL, timeout=900)
    return time.perf_counter() - started


def hour_of_files(root: Path, hour: int, lines: int) -> Path:
    """The landing files of one hour, generated once (never timed)."""
    from assets.cloudfront import sample
    from dataplatform.resources.lake import LocalObjectStore

    sample.generate(LocalObjectStore(root), sample.SampleSpec(
        start=START + timedelta(hours=hour), hours=1, lines=lines, distributions=2, files_per_hour=2,
        late_files=0, seed=hour))
    return root / "landing"


def dbt_node_seconds(log: Path) -> float | None:
    found = re.findall(r"Finished running .* in .*?\(([\d.]+)s\)", log.read_text(errors="replace"))
    return float(found[-1]) if found else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--demo-repeats", type=int, default=3)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="overhead-bench-"))
    home = work / "home"
    hours = [hour_of_files(work / f"files-{hour}", hour, args.lines) for hour in range(args.repeats + 1)]
    shutil.copytree(hours[0], home / "lake" / "landing", dirs_exist_ok=True)
    subprocess.run([str(BIN / "dataplatform"), "catch-up"], env=env_for(home), check=True,
                   stdout=subprocess.DEVNULL, timeout=900)  # warm: instance, seeds, parse cache, marts

    samples: dict[str, list[float]] = {"floor": [], "nothing new": [], "one new hour": []}
    node_seconds = []
    for repeat in range(args.repeats):
        samples["floor"].append(timed([sys.executable, "-c", FLOOR, str(home / "warehouse.duckdb")], home))
        samples["nothing new"].append(timed([str(BIN / "dataplatform"), "catch-up"], home))
        shutil.copytree(hours[repeat + 1], home / "lake" / "landing", dirs_exist_ok=True)
        samples["one new hour"].append(timed([str(BIN / "dataplatform"), "catch-up"], home))
        node_seconds.append(dbt_node_seconds(home / "catch-up.log"))

    if args.demo_repeats:
        samples["demo"] = [
            timed([str(BIN / "dataplatform"), "demo", "--quiet"], work / f"demo-{repeat}")
            for repeat in range(args.demo_repeats)
        ]

    floor = statistics.median(samples["floor"])
    targets = {"floor": None, "nothing new": 1.5, "one new hour": 2.5, "demo": None}
    print(f"{'measure':<14} {'median s':>9} {'x floor':>8} {'target':>7}   samples")
    result = {}
    for name, values in samples.items():
        median = statistics.median(values)
        target = targets[name]
        print(f"{name:<14} {median:>9.2f} {median / floor:>8.2f} {target or '':>7}   "
              + ", ".join(f"{v:.2f}" for v in values))
        result[name] = {"median_s": median, "ratio_to_floor": median / floor, "target": target, "samples": values}
    print(f"dbt nodes of the refresh (dbt's own timing): {', '.join(f'{s:.2f}s' for s in node_seconds if s)}")
    result["dbt_node_seconds"] = node_seconds
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "overhead.json").write_text(json.dumps(result, indent=2))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
