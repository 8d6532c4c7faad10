#!/usr/bin/env python
"""Orders outbox benchmark (issue 16): what the transactional outbox costs the order application
and how fast and how soon its relay gets committed changes onto the stream, on SQLite and
PostgreSQL, each next to the same database's bare insert rate measured in the same run.

    python bench/outbox_bench.py [--databases sqlite,postgresql] [--changes 20000] [--seconds 30] [--rate 1000] [--poll 0.05]

Per database (SQLite: files in a temp dir; PostgreSQL: a fresh `dataplatform_bench_<random>`
database on DATAPLATFORM_PG_DSN, one schema per part, dropped WITH (FORCE) at the end):
- reference, bare insert: --changes order rows (`OrderApplication.new_order()`, seed 16, generated
  before timing) inserted one transaction per row into a plain `orders` table (migration 1 only:
  no triggers, no outbox). rows/s.
- insert with triggers: the same rows into the migrated schema (each insert also writes its outbox
  row). rows/s and the ratio to bare. Both sides hold one connection each (as an application's
  pool does; the port's `transaction()` connects every time, see `port tx` below) and alternate in
  blocks of 1,000 rows, so machine noise hits both alike.
- relay: `relay(db, stream, "orders_changes", batch_size=500)` over those --changes unpublished
  rows into a LocalStreamStore (2 shards, as streams.yaml); changes/s and the ratio to the bare
  insert rate. Checked: backlog 0 and the stream holds every change.
- latency: a fresh migrated schema; the producer (this process) commits one insert per
  transaction paced at --rate/s for --seconds, noting time.time() right after each commit; a relay
  loop in a forked child calls `relay()`, sleeps --poll, again, until the producer is done and the
  backlog is 0. Latency of a change = its stream record's `arrival_timestamp` (the put) minus its
  commit time. p50/p95/max, the achieved commit rate (flagged when short of --rate) and the relay
  runs (count, median duration of those that published, changes per run). On SQLite the relay's
  reads and marking transactions compete with the producer for the one writer lock; that is part
  of what is measured. A negative minimum on SQLite is real: the WAL auto-checkpoint runs inside
  a COMMIT after the commit is visible, so that commit's stamp is late by the checkpoint.
- port tx: `db.query("SELECT 1")` (connect, begin, select, commit, close), what each of the relay's
  queries and marking transactions pays on top of its work.
Writes bench/results/outbox.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import secrets
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from assets.orders.app import OrderApplication
from assets.orders.schema import migrate, migrations
from dataplatform.outbox import backlog, decode, relay
from dataplatform.resources.oltp import PostgresDatabase, SqliteDatabase, _PostgresConnection
from dataplatform.resources.stream import LocalStreamStore
from dataplatform.streams import streams

RESULTS = Path(__file__).resolve().parents[1] / "bench" / "results"
DEFAULT_DSN = "postgresql://dataplatform:dataplatform@127.0.0.1:5432/dataplatform"
STREAM, SEED, BLOCK, BATCH = "orders_changes", 16, 1000, 500


@contextmanager
def schemas(kind: str, tmp: Path):
    """Yields make(name) -> a fresh, empty Database: a SQLite file, or a schema of a bench database."""
    if kind == "sqlite":
        yield lambda name: SqliteDatabase(tmp / f"{name}.db")
        return
    import psycopg
    from psycopg import sql

    dsn = os.environ.get("DATAPLATFORM_PG_DSN") or DEFAULT_DSN
    name = f"dataplatform_bench_{secrets.token_hex(6)}"
    admin = psycopg.connect(dsn, autocommit=True, connect_timeout=10)
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base = urlsplit(dsn)._replace(path=f"/{name}")

    def make(schema: str) -> PostgresDatabase:
        with psycopg.connect(urlunsplit(base), autocommit=True) as con:
            con.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        query = "&".join(q for q in (base.query, f"options=-csearch_path%3D{schema}") if q)
        return PostgresDatabase(urlunsplit(base._replace(query=query)))

    try:
        yield make
    finally:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()


class Writer:
    """One held connection committing one insert per transaction; returns the commit's time.time()."""

    def __init__(self, db, seed: int, n: int, connect: bool = True):
        self.db, self.app = db, OrderApplication(db, seed)
        self.rows = [self.app.new_order() for _ in range(n)]  # generated before any timing
        self.con = db.connect() if connect else None

    def insert(self, order: dict) -> float:
        if self.db.dialect == "sqlite":
            self.con.execute("BEGIN IMMEDIATE")
            try:
                self.app._insert(self.con, order)
            except BaseException:
                self.con.execute("ROLLBACK")
                raise
            self.con.execute("COMMIT")
        else:
            with self.con.transaction():
                self.app._insert(_PostgresConnection(self.con), order)
        return time.time()


def stream_records(stream: LocalStreamStore) -> list:
    out = []
    for shard in stream.list_shards(STREAM):
        page = stream.read(STREAM, shard.shard_id)
        while page:
            out += page
            page = stream.read(STREAM, shard.shard_id, position="AFTER_SEQUENCE_NUMBER", sequence_number=page[-1].sequence_number)
    return out


def new_stream(path: Path) -> LocalStreamStore:
    stream = LocalStreamStore(path)
    stream.create_stream(STREAM, streams()[STREAM].shards)
    return stream


def relay_loop(db, stream_path: Path, poll: float, done, pipe) -> None:
    stream, runs = LocalStreamStore(stream_path), []
    while True:
        finished = done.is_set()  # read before the run: everything committed by then is in its scan or the next
        started = time.perf_counter()
        result = relay(db, stream, STREAM, batch_size=BATCH)
        runs.append((time.perf_counter() - started, result.published))
        if result.error or result.failures:
            raise SystemExit(f"relay failed: {result.error or result.failures}")
        if finished and backlog(db).unpublished == 0:
            break
        time.sleep(poll)  # the relay's poll interval
    pipe.send(runs)


def measure(kind: str, args, tmp: Path) -> dict:
    out: dict = {}
    with schemas(kind, tmp) as make:
        bare, outbox = make("bare"), make("outbox")
        bare.execute_script(migrations(bare.dialect)[0][2])  # migration 1: the orders table alone
        migrate(outbox)
        started = time.perf_counter()
        for _ in range(20):
            outbox.query("SELECT 1")
        out["port_tx_ms"] = (time.perf_counter() - started) / 20 * 1000
        # 1 and 2: the same rows, alternating blocks of BLOCK rows between the two sides.
        writers = {"bare": Writer(bare, SEED, args.changes), "triggers": Writer(outbox, SEED, args.changes)}
        spent = dict.fromkeys(writers, 0.0)
        for i in range(0, args.changes, BLOCK):
            for side, writer in writers.items():
                started = time.perf_counter()
                for order in writer.rows[i:i + BLOCK]:
                    writer.insert(order)
                spent[side] += time.perf_counter() - started
        for writer in writers.values():
            writer.con.close()
        out["bare_rows_per_s"] = args.changes / spent["bare"]
        out["triggers_rows_per_s"] = args.changes / spent["triggers"]
        out["triggers_ratio"] = out["triggers_rows_per_s"] / out["bare_rows_per_s"]
        # 3: relay throughput over the backlog the insert left.
        stream = new_stream(tmp / f"{kind}-stream.db")
        started = time.perf_counter()
        result = relay(outbox, stream, STREAM, batch_size=BATCH)
        seconds = time.perf_counter() - started
        left, held = backlog(outbox).unpublished, len(stream_records(stream))
        assert result.published == args.changes and left == 0 and held == args.changes, (result.published, left, held)
        out.update(relay_seconds=seconds, relay_changes_per_s=args.changes / seconds, relay_puts=result.puts,
                   relay_ratio=args.changes / seconds / out["bare_rows_per_s"])
        # 4: commit-to-stream latency under a paced producer, the relay in a child process.
        live = make("live")
        migrate(live)
        stream_path = tmp / f"{kind}-live-stream.db"
        stream = new_stream(stream_path)
        writer = Writer(live, SEED + 1, int(args.rate * args.seconds), connect=False)
        context = multiprocessing.get_context("fork")
        done, (receive, send) = context.Event(), context.Pipe(duplex=False)
        child = context.Process(target=relay_loop, args=(live, stream_path, args.poll, done, send))
        child.start()  # before the producer connects: the child inherits no connection of it
        writer.con = live.connect()
        committed, behind = {}, 0.0
        started = time.perf_counter()
        for n, order in enumerate(writer.rows):
            delay = started + n / args.rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)  # pacing the application's load
            behind = max(behind, -delay)
            committed[order["order_id"]] = writer.insert(order)
        produced = time.perf_counter() - started
        done.set()
        writer.con.close()
        runs = receive.recv() if receive.poll(600) else None
        child.join(60)
        if runs is None or child.exitcode != 0:
            raise SystemExit(f"{kind}: the relay loop failed (exit code {child.exitcode})")
        records = stream_records(stream)
        arrived = {}
        for record in records:
            arrived.setdefault(decode(record.data).aggregate_id, record.arrival_timestamp)
        assert len(records) == len(committed) and arrived.keys() == committed.keys(), (len(records), len(committed))
        lat = sorted(arrived[k] - committed[k] for k in committed)
        busy = [r for r in runs if r[1]] or [(0.0, 0)]
        out.update(latency_changes=len(lat), commit_rate=len(lat) / produced, target_rate=args.rate,
                   producer_max_behind_s=behind, latency_p50_ms=statistics.median(lat) * 1000,
                   latency_p95_ms=lat[int(0.95 * (len(lat) - 1))] * 1000, latency_max_ms=lat[-1] * 1000,
                   latency_min_ms=lat[0] * 1000, relay_runs=len(runs),
                   relay_busy_runs=len(busy), relay_busy_run_median_ms=statistics.median(r[0] for r in busy) * 1000,
                   relay_run_max_ms=max(r[0] for r in runs) * 1000, changes_per_busy_run=len(lat) / len(busy))
    return out


def table(kind: str, r: dict, args) -> None:
    short = r["commit_rate"] < 0.98 * args.rate
    print(f"\n{kind}: {args.changes:,} changes; latency over {args.seconds:g} s at {args.rate:,.0f}/s, poll {args.poll:g} s")
    print(f"  {'bare insert (reference)':34}{r['bare_rows_per_s']:>10,.0f} rows/s")
    print(f"  {'insert with triggers':34}{r['triggers_rows_per_s']:>10,.0f} rows/s     {r['triggers_ratio']:.2f}x bare")
    print(f"  {'relay, batch 500':34}{r['relay_changes_per_s']:>10,.0f} changes/s  {r['relay_ratio']:.2f}x bare insert rate"
          f"  ({r['relay_seconds']:.2f} s, {r['relay_puts']} puts)")
    print(f"  {'commit rate achieved':34}{r['commit_rate']:>10,.0f} commits/s  "
          + (f"SHORT of the {args.rate:,.0f}/s target (up to {r['producer_max_behind_s']:.2f} s behind schedule)"
             if short else f"target {args.rate:,.0f}/s (at most {r['producer_max_behind_s'] * 1000:.0f} ms behind schedule)"))
    print(f"  {'commit -> stream latency':34}  p50 {r['latency_p50_ms']:,.0f} ms, p95 {r['latency_p95_ms']:,.0f} ms, "
          f"max {r['latency_max_ms']:,.0f} ms (min {r['latency_min_ms']:.1f} ms)")
    print(f"  {'relay runs during it':34}{r['relay_runs']:>10,}  {r['relay_busy_runs']} published: median "
          f"{r['relay_busy_run_median_ms']:.0f} ms, max {r['relay_run_max_ms']:.0f} ms, {r['changes_per_busy_run']:.0f} changes each")
    print(f"  {'port tx (db.query SELECT 1)':34}{r['port_tx_ms']:>10.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--changes", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--poll", type=float, default=0.05)
    args = parser.parse_args()
    results = {}
    for kind in args.databases.split(","):
        with tempfile.TemporaryDirectory(prefix="outbox-bench-") as tmp:
            results[kind] = measure(kind, args, Path(tmp))
        table(kind, results[kind], args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    summary = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "args": vars(args),
               "cpus": os.cpu_count(), "load_average": os.getloadavg()[0],
               "databases": {k: {m: round(v, 3) if isinstance(v, float) else v for m, v in r.items()} for k, r in results.items()}}
    (RESULTS / "outbox.json").write_text(json.dumps(summary, indent=2))
    print(f"\nwrote {RESULTS / 'outbox.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
