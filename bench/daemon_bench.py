"""Files landed -> marts built: under Dagster's own daemon, and under `dataplatform catch-up`.

    python bench/daemon_bench.py [--repeats 3] [--lines 3000] [--hours 3]

Each repeat uses a fresh DATAPLATFORM_HOME and the same CloudFront files (generated once):

- **daemon**: a code server and `dagster-daemon run` (tests/integration/daemon_harness.py) are
  started and left to tick until the arrival sensor has been evaluated once (the daemon is live);
  then the files are copied into the landing zone. Measured: from the copy to the
  materialisation of the last mart (its event timestamp in the instance), i.e. sensor interval,
  run queue, the raw run, the automation sensor's interval and the dbt run.
- **catch-up** (the reference, same run, same machine): the files are copied into a fresh home
  and `dataplatform catch-up` runs as a child process; measured: from the copy to its exit.

Reports medians and the ratio daemon / catch-up; writes bench/results/daemon.json.
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
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

import dagster as dg  # noqa: E402
from daemon_harness import DagsterRuntime, latest_timestamp  # noqa: E402

MARTS = [dg.AssetKey(["marts", name]) for name in ("cloudfront_top_viewers", "cloudfront_bot_traffic",
                                                   "cloudfront_bandwidth_by_edge")]
START = datetime(2026, 11, 24, tzinfo=timezone.utc)


def generate(root: Path, lines: int, hours: int) -> Path:
    from assets.cloudfront import sample
    from dataplatform.resources.lake import LocalObjectStore

    sample.generate(LocalObjectStore(root), sample.SampleSpec(start=START, hours=hours, lines=lines, distributions=2,
                                                             files_per_hour=2, late_files=0, seed=5))
    return root / "landing"


def under_the_daemon(landing: Path, home: Path) -> float:
    home.mkdir(parents=True)
    with DagsterRuntime(home) as runtime:
        log = runtime.logs / "daemon.log"
        runtime.wait_for(lambda _: log.exists() and "sensor: cloudfront_arrivals" in log.read_text(errors="replace"),
                         "the daemon's first arrival-sensor tick", timeout_s=300)
        landed = time.time()
        shutil.copytree(landing, home / "lake" / "landing", dirs_exist_ok=True)
        runtime.wait_for(lambda instance: all(latest_timestamp(instance, key) > landed for key in MARTS),
                         "the marts", timeout_s=900)
        return max(latest_timestamp(runtime.instance, key) for key in MARTS) - landed


def under_catch_up(landing: Path, home: Path) -> float:
    env = {**os.environ, "DATAPLATFORM_HOME": str(home), "DATAPLATFORM_ENV": "local"}
    env.pop("DAGSTER_HOME", None)
    landed = time.time()
    shutil.copytree(landing, home / "lake" / "landing", dirs_exist_ok=True)
    subprocess.run([str(Path(sys.executable).parent / "dataplatform"), "catch-up"], env=env, check=True,
                   stdout=subprocess.DEVNULL, timeout=900)
    return time.time() - landed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lines", type=int, default=3000)
    parser.add_argument("--hours", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[float]] = {"daemon": [], "catch-up": []}
    with tempfile.TemporaryDirectory(prefix="daemon-bench-") as tmp:
        landing = generate(Path(tmp) / "files", args.lines, args.hours)
        for repeat in range(args.repeats):  # alternate, so machine load hits both alike
            results["catch-up"].append(under_catch_up(landing, Path(tmp) / f"catch-up-{repeat}"))
            results["daemon"].append(under_the_daemon(landing, Path(tmp) / f"daemon-{repeat}"))
            print(f"repeat {repeat + 1}: daemon {results['daemon'][-1]:.1f} s, catch-up {results['catch-up'][-1]:.1f} s",
                  flush=True)
    medians = {name: statistics.median(values) for name, values in results.items()}
    ratio = medians["daemon"] / medians["catch-up"]
    print(f"files landed -> marts, median of {args.repeats} ({args.lines:,} lines, {args.hours} hours): "
          f"daemon {medians['daemon']:.1f} s, catch-up {medians['catch-up']:.1f} s, ratio {ratio:.2f}")
    out = ROOT / "bench" / "results" / "daemon.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "seconds": results, "medians": medians, "ratio": ratio}, indent=2))


if __name__ == "__main__":
    main()
