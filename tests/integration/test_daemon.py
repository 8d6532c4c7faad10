"""The daemon is the product: a code server and `dagster-daemon run` on a fresh home take
CloudFront files, a day of point-of-sale deliveries, a day of outreach deliveries, a late file for an earlier hour, a MIMIC
delivery and an order application's transactions from landing (or the orders database's outbox) to marts (or the stream) with nothing switched on by hand; `dataplatform catch-up` on the same deliveries builds the same marts.

Expectations come from the delivered files (test_cloudfront_end_to_end's plain-Python
computation; the MIMIC tables as generated), not from the platform's SQL.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from daemon_harness import BIN, DagsterRuntime, latest_timestamp
from test_cloudfront_end_to_end import assert_marts_match

START = datetime(2026, 11, 24, tzinfo=timezone.utc)
LATE_HOUR = START + timedelta(hours=1)
RAW = dg.AssetKey(["raw", "cloudfront", "access_logs"])
MART = dg.AssetKey(["marts", "cloudfront_top_viewers"])
PERSON = dg.AssetKey(["marts", "person"])
DQ_RESULTS = dg.AssetKey(["marts", "omop_dq_results"])
COUNTERS = dg.AssetKey(["serving", "web_analytics", "event_counters"])
SNAPSHOTS = dg.AssetKey(["warehouse", "snapshots", "warehouse"])
PATIENTS = 60
POS_MART = dg.AssetKey(["marts", "pos_region_daily"])
POS_DAY = datetime.now(timezone.utc).date() - timedelta(days=1)  # complete, so loaded whatever the hour
OUTREACH_MART = dg.AssetKey(["marts", "member_engagement"])
OUTREACH_DAY = datetime.now(timezone.utc).date() - timedelta(days=2)  # past its pharmacy cut-off, within retention
ORDERS_STREAM = dg.AssetKey(["stream", "orders_changes"])
# What differs between two homes, by design: when the sensor first saw a delivery, and each
# deployment's own secret token key (so its member tokens). Everything else must not.
PER_HOME = {
    "marts.pos_store_completeness": ("first_arrival", "last_arrival"),
    "marts.outreach_health_check": ("member_token",),
    "marts.outreach_medication_adherence": ("member_token",),
    "marts.member_engagement": ("member_token",),
}


@dataclass
class Deliveries:
    """The same deliveries, byte for byte, for every home."""

    landing: Path  # a prepared landing folder: stage 1 files
    late_key: str
    late_bytes: bytes
    mimic: dict
    events: list[tuple[str, bytes]]  # web-analytics records (partition key, JSON)

    def first(self, home: Path) -> None:
        shutil.copytree(self.landing, home / "lake" / "landing", dirs_exist_ok=True)

    def second(self, home: Path) -> None:
        """Explicit stores of `home` (no process environment: the catch-up home is fed from a thread)."""
        from assets.clinical import sample
        from dataplatform.resources.lake import LocalObjectStore
        from dataplatform.resources.stream import LocalStreamStore
        from dataplatform.streams import streams

        lake = LocalObjectStore(home / "lake")
        lake.put("landing", self.late_key, self.late_bytes)
        sample.write_delivery(lake, self.mimic, "delivery-1")
        policy, stream = streams()["web_analytics_events"], LocalStreamStore(home / "streams.sqlite")
        stream.create_stream(policy.name, policy.shards)
        from assets.orders.app import OrderApplication
        from assets.orders.schema import migrate
        from dataplatform.resources.oltp import SqliteDatabase

        orders = SqliteDatabase(home / "oltp.sqlite")  # the order application's transactions (seeded: the same changes)
        migrate(orders)
        OrderApplication(orders, seed=4).run(rate=10_000, seconds=0.02)
        for first in range(0, len(self.events), 500):
            stream.put_records(policy.name, self.events[first : first + 500])


@pytest.fixture(scope="module")
def deliveries(tmp_path_factory) -> Deliveries:
    from assets.clinical import sample as mimic_sample
    from assets.cloudfront import sample
    from assets.outreach import sample as outreach_sample
    from assets.pos import sample as pos_sample
    from dataplatform.resources.lake import LocalObjectStore

    root = tmp_path_factory.mktemp("deliveries")
    sample.generate(LocalObjectStore(root), sample.SampleSpec(start=START, hours=3, lines=3000, distributions=2,
                                                             files_per_hour=2, late_files=0, seed=5))
    pos_sample.generate(LocalObjectStore(root), pos_sample.SampleSpec(start=POS_DAY, days=1, regions=2, stores=3,
                                                                      deliveries_per_day=2, seed=5))
    outreach_sample.generate(LocalObjectStore(root), outreach_sample.SampleSpec(members=40, outreaches=100, day=OUTREACH_DAY, seed=5))
    landing = root / "landing"
    donor = next(p for p in sorted(landing.rglob("*.gz")) if f"{LATE_HOUR:%Y-%m-%d-%H}" in p.name)
    late_key = f"cloudfront/{donor.name.split('.')[0]}.{LATE_HOUR:%Y-%m-%d-%H}.late0001.gz"
    tables = mimic_sample.generate_tables(mimic_sample.SampleSpec(patients=PATIENTS, seed=3))
    from assets.web_analytics.sample import EventsSpec, events

    records = list(events(EventsSpec(start=START, seconds=180, rate=10, seed=3)))
    return Deliveries(landing, late_key, donor.read_bytes(), tables, records)


def expected_hour_counters(records: list[tuple[str, bytes]]) -> dict[str, int]:
    """Events per (event, UTC hour) of the produced records, by plain JSON parsing."""
    counted = Counter()
    for _, data in records:
        event = json.loads(data)
        counted[f"hour#{event['event']}#{event['utc_timestamp'][:13]}"] += 1
    return dict(counted)


def hour_counters(home: Path) -> dict[str, int]:
    from dataplatform.resources.kv import SqliteKeyValueStore

    store = SqliteKeyValueStore(home / "kv.sqlite")
    return {key: item["count"] for key, item in store.scan("web_analytics_counters") if key.startswith("hour#")}


def published_tables(warehouse: Path, schemas: tuple[str, ...]) -> dict[str, list[tuple]]:
    """Every published table's rows, sorted: what two builds must agree on."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        names = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables where table_type = 'BASE TABLE' "
            f"and table_schema in ({', '.join(repr(s) for s in schemas)}) order by 1"
        ).fetchall()
        return {
            name: sorted(con.execute(
                f"select * {'exclude (' + ', '.join(PER_HOME[name]) + ')' if name in PER_HOME else ''} from {name}"
            ).fetchall(), key=repr)
            for (name,) in names
        }


def built(home: Path) -> dict[str, list[tuple]]:
    return {
        **published_tables(home / "warehouse.duckdb", ("marts",)),
        **published_tables(home / "clinical_warehouse.duckdb", ("omop_cdm", "omop_results")),
    }


@pytest.fixture(scope="module")
def catch_up_started(tmp_path_factory, deliveries) -> Future:
    """The same deliveries, in the same two stages, through `dataplatform catch-up` (a child
    process per stage, no daemon) - in a thread, so it overlaps the daemon's idle sensor intervals."""
    home = tmp_path_factory.mktemp("catch_up") / "home"
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "DBT_TARGET", "DBT_WAREHOUSE_TARGET")}
    env.update(DATAPLATFORM_HOME=str(home), DATAPLATFORM_ENV="local")

    def run() -> Path:
        for stage in (deliveries.first, deliveries.second):
            stage(home)
            subprocess.run([str(BIN / "dataplatform"), "catch-up"], env=env, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=900)
        return home

    pool = ThreadPoolExecutor(max_workers=1)
    yield pool.submit(run)
    pool.shutdown(wait=True)


@pytest.fixture(scope="module")
def daemon_home(tmp_path_factory, deliveries, catch_up_started) -> dict:
    """Deliver to a running daemon and wait (bounded polls) for each stage to reach the marts."""
    home = tmp_path_factory.mktemp("daemon") / "home"
    home.mkdir()
    timings = {}
    with pytest.MonkeyPatch.context() as patch, DagsterRuntime(home) as runtime:
        patch.setenv("DATAPLATFORM_HOME", str(home))
        landed = time.time()
        deliveries.first(home)
        timings["cloudfront, pos and outreach"] = runtime.wait_for(
            lambda i: all(latest_timestamp(i, mart) > landed for mart in (MART, POS_MART, OUTREACH_MART)), "marts from the first files",
            timeout_s=900)  # three domains' loads, then the automation's serialised dbt runs (about 30 s each)
        first_mart = latest_timestamp(runtime.instance, MART)

        landed = time.time()
        deliveries.second(home)
        late_partition = f"{LATE_HOUR:%Y-%m-%d-%H}:00"

        def refreshed(instance) -> bool:
            raw = latest_timestamp(instance, RAW, late_partition)
            return (raw > landed and latest_timestamp(instance, MART) > raw and latest_timestamp(instance, DQ_RESULTS) > landed
                    and latest_timestamp(instance, COUNTERS) > landed and latest_timestamp(instance, ORDERS_STREAM) > landed)

        timings["late file and clinical"] = runtime.wait_for(refreshed, "the late hour and the CDM in the marts")
        sensor_runs = runtime.instance.get_runs(filters=dg.RunsFilter(tags={"dagster/sensor_name": "automation"}))
        # Launched by the arrival sensor or the zone's reconciliation, whichever ticked first.
        raw_runs = runtime.instance.get_runs(filters=dg.RunsFilter(tags={"dataplatform/landing_zone": "cloudfront"}))
        snapshot_runs = runtime.instance.get_runs(filters=dg.RunsFilter(tags={"dagster/sensor_name": "snapshot_rpo"}))
        snapshotted = latest_timestamp(runtime.instance, SNAPSHOTS) > 0
        pos_runs = runtime.instance.get_runs(filters=dg.RunsFilter(tags={"dagster/sensor_name": "pos_windows"}))
        outreach_runs = runtime.instance.get_runs(filters=dg.RunsFilter(tags={"dagster/sensor_name": "outreach_deliveries"}))
        relay_runs = runtime.instance.get_runs(filters=dg.RunsFilter(tags={"dagster/sensor_name": "orders_outbox_relay"}))
    return {"outreach_runs": outreach_runs, "relay_runs": relay_runs, "home": home, "timings": timings, "first_mart": first_mart, "automation_runs": sensor_runs,
            "raw_runs": raw_runs, "snapshot_runs": snapshot_runs, "snapshotted": snapshotted, "pos_runs": pos_runs}


@pytest.fixture(scope="module")
def catch_up_home(catch_up_started) -> Path:
    return catch_up_started.result(timeout=1800)  # raises if a catch-up failed


@pytest.mark.slow
def test_the_daemon_builds_the_marts_from_landed_files(daemon_home, deliveries):
    home = daemon_home["home"]
    assert_marts_match(home)  # every line of every file, the late one included, per plain Python
    # Launched by the code location's own automation sensor, not by hand.
    assert daemon_home["automation_runs"], "no run was launched by the automation sensor"
    with duckdb.connect(str(home / "clinical_warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from omop_cdm.person").fetchone()[0] == deliveries.mimic["PATIENTS"].num_rows
    assert hour_counters(home) == expected_hour_counters(deliveries.events)  # the stream, exactly once
    # The RPO sensor snapshots the warehouses it finds (their first snapshot is due at once).
    assert daemon_home["snapshotted"] and all(r.status == dg.DagsterRunStatus.SUCCESS for r in daemon_home["snapshot_runs"])
    # Each complete point-of-sale window loaded once by the pos_windows sensor, then aggregated.
    # Each outreach delivery registered (a dynamic partition) and loaded once by its sensor.
    loaded = sorted(r.tags["dataplatform/outreach_delivery"] for r in daemon_home["outreach_runs"] if r.status == dg.DagsterRunStatus.SUCCESS)
    assert loaded == [f"members/{OUTREACH_DAY}-m01", f"pharmacy_claims/{OUTREACH_DAY}", f"responses/{OUTREACH_DAY}-r01"]
    assert len(daemon_home["outreach_runs"]) == 3
    windows = sorted(r.tags["dataplatform/pos_window"] for r in daemon_home["pos_runs"] if r.status == dg.DagsterRunStatus.SUCCESS)
    assert windows == [f"{POS_DAY}|us-east", f"{POS_DAY}|us-west"] and len(daemon_home["pos_runs"]) == 2
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select region, stores_reporting, is_complete from marts.pos_region_daily order by 1").fetchall() == [
            ("us-east", 3, True), ("us-west", 3, True)]
    # The order database's committed changes, each once on the stream, by the relay sensor's runs.
    assert daemon_home["relay_runs"] and all(r.status == dg.DagsterRunStatus.SUCCESS for r in daemon_home["relay_runs"])
    assert order_changes(home) == committed_orders(home)
    print(f"daemon: landed -> marts {daemon_home['timings']}")


def order_changes(home: Path) -> dict[str, list[str]]:
    """Per order, the change types on the stream (first delivery of each outbox id, stream order)."""
    from dataplatform import outbox
    from dataplatform.resources.stream import LocalStreamStore

    stream = LocalStreamStore(home / "streams.sqlite")
    events = [outbox.decode(r.data) for shard in stream.list_shards("orders_changes")
              for r in stream.read("orders_changes", shard.shard_id, limit=100_000)]
    changes: dict[str, list[str]] = {}
    for event in outbox.first_deliveries(events):
        changes.setdefault(event.aggregate_id, []).append(event.event_type)
    return changes


def committed_orders(home: Path) -> dict[str, list[str]]:
    """Per order, its changes as the database committed them (the outbox, in id order), and each
    order still in the table ends with a created or updated change, each deleted one with a delete."""
    from dataplatform.resources.oltp import SqliteDatabase

    db = SqliteDatabase(home / "oltp.sqlite")
    changes: dict[str, list[str]] = {}
    for aggregate, event in db.query("select aggregate_id, event_type from outbox order by id"):
        changes.setdefault(aggregate, []).append(event)
    remaining = {order_id for order_id, in db.query("select order_id from orders")}
    assert {a for a, c in changes.items() if c[-1] != "deleted"} == remaining
    return changes


@pytest.mark.slow
def test_a_late_file_reopens_its_hour_under_the_daemon(daemon_home):
    late = [r for r in daemon_home["raw_runs"] if r.tags.get("dagster/partition") == f"{LATE_HOUR:%Y-%m-%d-%H}:00"]
    assert len(late) == 1 and late[0].status == dg.DagsterRunStatus.SUCCESS, "the late hour was not re-run alone"
    assert len(daemon_home["raw_runs"]) == 2  # the first range, then only the late hour: never twice


@pytest.mark.slow
def test_catch_up_and_the_daemon_build_identical_marts(daemon_home, catch_up_home):
    by_daemon, by_catch_up = built(daemon_home["home"]), built(catch_up_home)
    assert set(by_daemon) == set(by_catch_up) and len(by_daemon) > 20
    differing = [name for name in by_daemon if by_daemon[name] != by_catch_up[name]]
    assert differing == []
    assert hour_counters(daemon_home["home"]) == hour_counters(catch_up_home)
    assert order_changes(daemon_home["home"]) == order_changes(catch_up_home) != {}
