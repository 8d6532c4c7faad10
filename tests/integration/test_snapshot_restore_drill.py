"""Restore drills on a real local DuckDB warehouse: the job restores the newest snapshot into a
scratch file, verifies the key tables' row counts against those recorded with the snapshot and
records the RTO; and `catch-up` runs the RPO sensor. Expected counts are computed here with
DuckDB, independently of the platform code."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from dataplatform.catchup import catch_up
from dataplatform.resources.snapshots import NAMESPACE_TAG, LocalSnapshotStore
from dataplatform.snapshots import snapshot_policies, snapshot_restore_drill, take_snapshot

POLICY = snapshot_policies()["warehouse"]
DRILL_CONFIG = {"ops": {"run_restore_drill": {"config": {"warehouse": POLICY.name}}}}


@pytest.fixture
def warehouse(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute("create table marts.cloudfront_top_viewers as select range as rank, '10.0.0.' || range as client_ip from range(50)")
    con.execute("create table marts.cloudfront_bandwidth_by_edge as select 'EDGE' || range as edge, range * 10 as bytes from range(13)")
    # marts.vpc_top_talkers is not built: recorded (and verified) as missing.
    con.close()
    return path


@pytest.fixture
def store(tmp_path, warehouse):
    return LocalSnapshotStore(tmp_path / "snapshots", {POLICY.cluster: warehouse})


def independent_counts(path) -> dict:
    con = duckdb.connect(str(path), read_only=True)
    try:
        present = {f"{s}.{t}" for s, t in con.execute("select table_schema, table_name from information_schema.tables").fetchall()}
        return {t: (con.execute(f"select count(*) from {t}").fetchone()[0] if t in present else None) for t in POLICY.key_tables}
    finally:
        con.close()


def drill_observation(instance, result) -> dict:
    (event,) = [
        e for e in instance.all_logs(result.run_id)
        if e.dagster_event and e.dagster_event.event_type_value == "ASSET_OBSERVATION"
    ]
    return {k: v.value for k, v in event.dagster_event.event_specific_data.asset_observation.metadata.items()}


def test_drill_restores_and_verifies_the_newest_snapshot_and_records_the_rto(store, warehouse, tmp_path):
    from datetime import datetime, timezone

    expected = independent_counts(warehouse)
    assert expected == {"marts.cloudfront_top_viewers": 50, "marts.cloudfront_bandwidth_by_edge": 13, "marts.vpc_top_talkers": None}
    taken = take_snapshot(POLICY, store, datetime.now(timezone.utc)).snapshot
    # The warehouse moves on after the snapshot: the drill must find the snapshot's state.
    con = duckdb.connect(str(warehouse))
    con.execute("insert into marts.cloudfront_top_viewers select range, 'x' from range(7)")
    con.close()

    with dg.instance_for_test() as instance:
        result = snapshot_restore_drill.execute_in_process(
            run_config=DRILL_CONFIG, resources={"snapshots": store}, instance=instance
        )
        assert result.success
        observed = drill_observation(instance, result)
    assert observed["restore_drill_snapshot"] == taken.snapshot_id
    assert observed["restore_drill_verified"] is True and observed["restore_drill_rto_met"] is True
    assert observed["restore_drill_row_counts"] == expected
    assert observed["restore_drill_mismatches"] == {}
    assert 0 < observed["restore_drill_rto_seconds"] < observed["restore_drill_rto_target_seconds"]
    assert not any((tmp_path / "snapshots" / "_restores").iterdir())  # the scratch copy is dropped


def test_drill_fails_when_the_restored_copy_does_not_match(store, warehouse, tmp_path):
    from datetime import datetime, timezone

    taken = take_snapshot(POLICY, store, datetime.now(timezone.utc)).snapshot
    # Damage the stored copy behind the platform's back.
    con = duckdb.connect(str(tmp_path / "snapshots" / POLICY.cluster / f"{taken.snapshot_id}.duckdb"))
    con.execute("delete from marts.cloudfront_bandwidth_by_edge where bytes > 50")
    con.close()
    with dg.instance_for_test() as instance:
        result = snapshot_restore_drill.execute_in_process(
            run_config=DRILL_CONFIG, resources={"snapshots": store}, instance=instance, raise_on_error=False
        )
        assert not result.success
        observed = drill_observation(instance, result)
    assert observed["restore_drill_verified"] is False
    assert observed["restore_drill_mismatches"] == {"marts.cloudfront_bandwidth_by_edge": {"recorded": 13, "restored": 6}}
    assert "does not match" in result.failure_data_for_node("run_restore_drill").user_failure_data.description


def test_drill_without_a_snapshot_fails_clearly(store):
    result = snapshot_restore_drill.execute_in_process(run_config=DRILL_CONFIG, resources={"snapshots": store}, raise_on_error=False)
    assert not result.success
    assert "no available snapshot" in str(result.failure_data_for_node("run_restore_drill").error.cause.message)


def test_catch_up_runs_the_rpo_sensor(store, warehouse, tmp_path):
    from assets.warehouse_ops.assets import assets as inventory_assets
    from sensors.snapshot_rpo import snapshot_rpo_sensor

    # The sensor evaluates every policy; only this one's warehouse exists in the store.
    defs = dg.Definitions(assets=inventory_assets, sensors=[snapshot_rpo_sensor()], resources={"snapshots": store})
    with dg.instance_for_test() as instance:
        first = catch_up(defs, instance)
        assert (first.runs, first.failed_runs) == (1, [])
        (snapshot,) = store.list_snapshots(POLICY.cluster)
        assert snapshot.namespace == POLICY.namespace and snapshot.tags[NAMESPACE_TAG] == POLICY.namespace
        assert dict(snapshot.row_counts) == independent_counts(warehouse)
        # Within the RPO: nothing more to do; the check's verdicts were recorded on each pass.
        assert catch_up(defs, instance).runs == 0
        check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(POLICY.asset_key, "rpo_compliance")]
        )
        assert check[dg.AssetCheckKey(POLICY.asset_key, "rpo_compliance")].status.value == "SUCCEEDED"


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def test_drill_skips_a_snapshot_without_any_key_table_and_warns_it_is_not_the_newest(warehouse, tmp_path):
    import logging
    from datetime import datetime, timedelta, timezone

    t0 = datetime(2026, 11, 22, 4, 0, tzinfo=timezone.utc)
    clock = Clock(t0)
    store = LocalSnapshotStore(tmp_path / "snapshots", {POLICY.cluster: warehouse}, clock=clock)
    expected = independent_counts(warehouse)
    good = take_snapshot(POLICY, store, t0).snapshot
    # The key tables are gone (a failed rebuild): the next snapshot records every one as missing.
    con = duckdb.connect(str(warehouse))
    con.execute("drop table marts.cloudfront_top_viewers; drop table marts.cloudfront_bandwidth_by_edge")
    con.close()
    assert set(independent_counts(warehouse).values()) == {None}
    clock.now = t0 + timedelta(hours=1)
    empty = take_snapshot(POLICY, store, clock.now).snapshot
    assert set(empty.row_counts.values()) == {None}

    with dg.instance_for_test() as instance:
        result = snapshot_restore_drill.execute_in_process(
            run_config=DRILL_CONFIG, resources={"snapshots": store}, instance=instance
        )
        assert result.success
        observed = drill_observation(instance, result)
        warnings = [e.user_message for e in instance.all_logs(result.run_id) if e.level == logging.WARNING]
    # The snapshot with nothing to verify is not drilled; the older one is, and it is flagged.
    assert observed["restore_drill_snapshot"] == good.snapshot_id
    assert observed["restore_drill_row_counts"] == expected
    assert observed["restore_drill_newest_snapshot"] is False
    assert observed["restore_drill_newest_available"] == empty.snapshot_id
    assert any(good.snapshot_id in w and empty.snapshot_id in w and "not the newest" in w for w in warnings)


def test_drill_with_only_snapshots_of_missing_tables_fails(tmp_path):
    from datetime import datetime, timezone

    empty_warehouse = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty_warehouse)).close()
    store = LocalSnapshotStore(tmp_path / "snapshots", {POLICY.cluster: empty_warehouse})
    take_snapshot(POLICY, store, datetime.now(timezone.utc))
    result = snapshot_restore_drill.execute_in_process(run_config=DRILL_CONFIG, resources={"snapshots": store}, raise_on_error=False)
    assert not result.success
    assert "no available snapshot with recorded row counts" in str(result.failure_data_for_node("run_restore_drill").error.cause.message)


def test_drill_keeps_a_scratch_target_it_did_not_create(store, tmp_path):
    from datetime import datetime, timezone

    take_snapshot(POLICY, store, datetime.now(timezone.utc))
    concurrent = tmp_path / "snapshots" / "_restores" / f"{POLICY.restore_drill.scratch_target}.duckdb"
    concurrent.parent.mkdir(parents=True)
    concurrent.write_bytes(b"a concurrent drill's copy")
    result = snapshot_restore_drill.execute_in_process(run_config=DRILL_CONFIG, resources={"snapshots": store}, raise_on_error=False)
    assert not result.success
    assert "drop it first" in str(result.failure_data_for_node("run_restore_drill").error.cause.message)
    assert concurrent.read_bytes() == b"a concurrent drill's copy"


KILLED_SNAPSHOT = """
import sys
from datetime import datetime, timezone
from pathlib import Path
from dataplatform.resources.snapshots import LocalSnapshotStore
from dataplatform.snapshots import snapshot_policies, take_snapshot
policy = snapshot_policies()["warehouse"]
store = LocalSnapshotStore(Path(sys.argv[1]), {policy.cluster: Path(sys.argv[2])})
take_snapshot(policy, store, datetime.now(timezone.utc))
"""


def test_a_snapshot_killed_before_it_is_published_leaves_nothing_a_restore_could_use(store, warehouse, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    from datetime import datetime, timedelta, timezone

    env = {**os.environ, "DATAPLATFORM_KILL_AT": "snapshot.before_publish"}
    killed = subprocess.run([sys.executable, "-c", KILLED_SNAPSHOT, str(tmp_path / "snapshots"), str(warehouse)],
                            env=env, capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert list((tmp_path / "snapshots").rglob("*.partial"))  # the copy it was making
    assert store.list_snapshots(POLICY.cluster) == []  # never listed, so never restored or counted on

    # The retry (the RPO sensor's `#2` on its next tick) takes the snapshot and clears the stale copy.
    taken = take_snapshot(POLICY, store, datetime.now(timezone.utc) + timedelta(minutes=2)).snapshot
    assert [s.snapshot_id for s in store.list_snapshots(POLICY.cluster)] == [taken.snapshot_id]
    assert dict(taken.row_counts) == independent_counts(warehouse)
    assert list((tmp_path / "snapshots").rglob("*.partial")) == []
