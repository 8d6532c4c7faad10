"""The snapshot RPO guardian: decisions as pure functions of (policy, snapshots, now), pruning
that never touches what it must not, and the sensor at tick level with an injected clock
(no sleeps): requests, one run per RPO window, faults and recovery on a later tick."""

from __future__ import annotations

import errno
import shutil
from datetime import datetime, timedelta, timezone

import dagster as dg
import duckdb
import pytest

from dataplatform import snapshots as policy_lib
from dataplatform.resources.snapshots import (
    AUTOMATED,
    AVAILABLE,
    CREATING,
    MANUAL,
    NAMESPACE_TAG,
    LocalSnapshotStore,
    Snapshot,
    Throttled,
)
from dataplatform.snapshots import (
    RestoreDrillPolicy,
    SnapshotPolicy,
    prune_candidates,
    rpo_status,
    snapshot_due,
    snapshot_in_progress,
    window_key,
)
from dataplatform.run_attempts import DONE, FAILED, RUNNING
from sensors.snapshot_rpo import evaluate_policy, snapshot_rpo_sensor

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
TICK = timedelta(seconds=120)
POLICY = SnapshotPolicy(
    name="warehouse", domain="warehouse_ops", cluster="dp-test", local_file="warehouse.duckdb",
    rpo_minutes=60, snapshot_lead_minutes=5, snapshot_timeout_minutes=30, retention_days=7,
    namespace="dataplatform-rpo", snapshot_prefix="dp-rpo", key_tables=("marts.cloudfront_top_viewers", "marts.absent"),
    restore_drill=RestoreDrillPolicy("30 4 * * 0", "dp-drill", 60),
)


def snap(snapshot_id, created, kind=MANUAL, namespace="dataplatform-rpo", status=AVAILABLE) -> Snapshot:
    tags = {NAMESPACE_TAG: namespace} if namespace else {}
    return Snapshot(snapshot_id, "dp-test", created, kind, status, tags)


# --- decisions ---------------------------------------------------------------------------------


def test_due_exactly_when_the_rpo_would_be_violated_before_the_next_tick():
    snapshots = [snap("a", T0)]
    # deadline 13:00; the next tick + lead: now + 2 min + 5 min.
    assert not snapshot_due(POLICY, snapshots, T0 + timedelta(minutes=52, seconds=59), TICK)
    assert snapshot_due(POLICY, snapshots, T0 + timedelta(minutes=53), TICK)
    assert snapshot_due(POLICY, snapshots, T0 + timedelta(hours=5), TICK)
    assert snapshot_due(POLICY, [], T0, TICK)  # no snapshot at all
    # The newest of any type counts: an automated snapshot resets the clock.
    assert not snapshot_due(POLICY, [snap("a", T0), snap("auto", T0 + timedelta(minutes=50), AUTOMATED, None)],
                            T0 + timedelta(minutes=55), TICK)
    # A snapshot still creating does not count as a recovery point.
    assert snapshot_due(POLICY, [snap("a", T0), snap("b", T0 + timedelta(minutes=50), status=CREATING)],
                        T0 + timedelta(minutes=55), TICK)


def test_rpo_status_and_window_key():
    snapshots = [snap("old", T0 - timedelta(hours=3)), snap("new", T0, AUTOMATED, None)]
    status = rpo_status(POLICY, snapshots, T0 + timedelta(minutes=61))
    assert (status.newest.snapshot_id, status.age, status.compliant) == ("new", timedelta(minutes=61), False)
    assert rpo_status(POLICY, snapshots, T0 + timedelta(minutes=60)).compliant
    assert status.metadata(POLICY)["newest_snapshot_age_minutes"] == 61.0
    none = rpo_status(POLICY, [], T0)
    assert (none.newest, none.compliant) == (None, False)
    assert window_key(POLICY, snapshots) == "snapshot-rpo:warehouse:20261124T120000Z"
    assert window_key(POLICY, []) == "snapshot-rpo:warehouse:none"


def test_in_progress_snapshot_blocks_only_until_its_timeout():
    creating = [snap("a", T0, status=CREATING)]
    assert snapshot_in_progress(POLICY, creating, T0 + timedelta(minutes=29)).snapshot_id == "a"
    assert snapshot_in_progress(POLICY, creating, T0 + timedelta(minutes=31)) is None


def test_prune_never_touches_automated_other_namespaces_creating_or_the_newest():
    now = T0
    old = now - timedelta(days=30)
    snapshots = [
        snap("ours-old-1", old),
        snap("ours-old-2", old + timedelta(hours=1)),
        snap("ours-recent", now - timedelta(days=6, hours=23)),
        snap("auto-old", old, AUTOMATED, None),
        snap("theirs-old", old, namespace="another-team"),
        snap("untagged-old", old, namespace=None),
        snap("ours-creating-old", old, status=CREATING),
    ]
    assert [s.snapshot_id for s in prune_candidates(POLICY, snapshots, now)] == ["ours-old-1", "ours-old-2"]


def test_prune_keeps_the_newest_even_when_everything_is_past_retention():
    old = T0 - timedelta(days=30)
    only_ours = [snap("a", old), snap("b", old + timedelta(hours=1))]
    assert [s.snapshot_id for s in prune_candidates(POLICY, only_ours, T0)] == ["a"]
    # An automated snapshot is newest overall: the namespace's newest manual one is still kept.
    with_auto = [*only_ours, snap("auto", T0 - timedelta(hours=1), AUTOMATED, None)]
    assert [s.snapshot_id for s in prune_candidates(POLICY, with_auto, T0)] == ["a"]
    assert prune_candidates(POLICY, [snap("a", old)], T0) == []


# --- the sensor at tick level ------------------------------------------------------------------


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock(T0)
    monkeypatch.setattr(policy_lib, "CLOCK", clock)
    return clock


@pytest.fixture
def warehouse(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema marts; create table marts.cloudfront_top_viewers as select range as id from range(42)")
    con.close()
    return path


@pytest.fixture
def store(tmp_path, warehouse, clock):
    return LocalSnapshotStore(tmp_path / "snapshots", {"dp-test": warehouse}, clock=clock)


@pytest.fixture
def platform(store):
    from assets.warehouse_ops.assets import inventory_asset

    asset = inventory_asset(POLICY)
    sensor = snapshot_rpo_sensor([POLICY], interval_seconds=int(TICK.total_seconds()))
    defs = dg.Definitions(assets=[asset], sensors=[sensor], resources={"snapshots": store})
    with dg.instance_for_test() as instance:
        def tick():
            context = dg.build_sensor_context(instance=instance, definitions=defs, resources={"snapshots": store})
            return sensor.evaluate_tick(context)

        def run(request):
            return dg.materialize(
                [asset], instance=instance, resources={"snapshots": store}, run_config=request.run_config,
                tags={**request.tags, "dagster/run_key": request.run_key}, raise_on_error=False,
            )

        yield tick, run, instance


def check_events(result) -> list[dg.AssetCheckEvaluation]:
    return [e for e in result.asset_events if isinstance(e, dg.AssetCheckEvaluation)]


def test_first_tick_snapshots_then_nothing_until_the_rpo_nears(platform, store, clock):
    tick, run, instance = platform
    first = tick()
    (request,) = first.run_requests
    assert request.run_key == "snapshot-rpo:warehouse:none"
    assert request.asset_selection == [POLICY.asset_key]
    (check,) = check_events(first)
    assert not check.passed  # no snapshot yet
    result = run(request)
    assert result.success
    (taken,) = store.list_snapshots("dp-test")
    assert (taken.snapshot_id, taken.kind, taken.namespace) == ("dp-rpo-20261124-120000", MANUAL, "dataplatform-rpo")
    assert dict(taken.row_counts) == {"marts.cloudfront_top_viewers": 42, "marts.absent": None}
    # The run recorded the inventory and a passing check with the snapshot's age.
    checks = result.get_asset_check_evaluations()
    assert [c.passed for c in checks] == [True]
    materialization = result.asset_materializations_for_node(POLICY.op_name)[0]
    assert materialization.metadata["newest_snapshot_age_minutes"].value == 0.0
    assert materialization.metadata["dagster/row_count"].value == 1

    # Within the window: the same tick again, and ticks until shortly before the deadline, ask for nothing.
    for minutes in (0, 10, 52):
        clock.now = T0 + timedelta(minutes=minutes)
        quiet = tick()
        assert quiet.run_requests == []
        (check,) = check_events(quiet)
        assert check.passed and check.metadata["newest_snapshot_age_minutes"].value == float(minutes)

    # 53 minutes: 2 min tick + 5 min lead would pass 13:00: one request for the window opened at 12:00.
    clock.now = T0 + timedelta(minutes=53)
    (due,) = tick().run_requests
    assert due.run_key == "snapshot-rpo:warehouse:20261124T120000Z"
    # Replayed ticks give the same run key (the daemon launches it once) ...
    assert [r.run_key for r in tick().run_requests] == [due.run_key]
    assert run(due).success
    # ... and once the snapshot exists, the window moves on.
    assert tick().run_requests == []
    assert [s.snapshot_id for s in store.list_snapshots("dp-test")] == ["dp-rpo-20261124-120000", "dp-rpo-20261124-125300"]


def test_a_violated_rpo_fails_the_check(platform, store, clock):
    tick, run, _ = platform
    store.create_snapshot("dp-test", "dp-rpo-old", tags={NAMESPACE_TAG: "dataplatform-rpo"}, key_tables=[])
    clock.now = T0 + timedelta(minutes=75)
    result = tick()
    (check,) = check_events(result)
    assert not check.passed and "75.0 min old (RPO 60 min)" in check.description
    assert check.metadata["newest_snapshot_age_minutes"].value == 75.0
    (observation,) = [e for e in result.asset_events if isinstance(e, dg.AssetObservation)]
    assert observation.metadata["newest_snapshot_age_minutes"].value == 75.0
    assert len(result.run_requests) == 1


def test_the_run_prunes_only_what_it_may(platform, store, clock):
    tick, run, _ = platform
    # History: our old snapshots, an old automated one, another namespace's; all 30 days old.
    clock.now = T0 - timedelta(days=30)
    for snapshot_id, tags, kind in (
        ("dp-rpo-a", {NAMESPACE_TAG: "dataplatform-rpo"}, MANUAL),
        ("dp-rpo-b", {NAMESPACE_TAG: "dataplatform-rpo"}, MANUAL),
        ("auto-1", {}, AUTOMATED),
        ("theirs-1", {NAMESPACE_TAG: "another-team"}, MANUAL),
    ):
        store.create_snapshot("dp-test", snapshot_id, tags=tags, key_tables=[], kind=kind)
    clock.now = T0
    (request,) = tick().run_requests
    result = run(request)
    assert result.success
    remaining = {s.snapshot_id for s in store.list_snapshots("dp-test")}
    assert remaining == {"auto-1", "theirs-1", "dp-rpo-20261124-120000"}
    pruned = result.asset_materializations_for_node(POLICY.op_name)[0].metadata["pruned"].value
    assert sorted(pruned) == ["dp-rpo-a", "dp-rpo-b"]


def test_a_failing_run_deletes_nothing_and_a_later_tick_retries(platform, store, clock, monkeypatch):
    tick, run, instance = platform
    clock.now = T0 - timedelta(days=30)
    store.create_snapshot("dp-test", "dp-rpo-old", tags={NAMESPACE_TAG: "dataplatform-rpo"}, key_tables=[])
    store.create_snapshot("dp-test", "dp-rpo-older", tags={NAMESPACE_TAG: "dataplatform-rpo"}, key_tables=[])
    before = [s.snapshot_id for s in store.list_snapshots("dp-test")]

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    clock.now = T0
    monkeypatch.setattr(shutil, "copyfile", full_disk)
    (request,) = tick().run_requests
    failed = run(request)
    assert not failed.success
    reason = failed.failure_data_for_node(POLICY.op_name).user_failure_data.description
    assert "no snapshot taken, nothing pruned" in reason and "disk full" in reason
    assert [s.snapshot_id for s in store.list_snapshots("dp-test")] == before  # nothing pruned on error

    # The failed run ended "now": the next evaluation within a tick interval waits ...
    assert tick().run_requests == []
    # ... a tick later it retries the window under a new run key, and the retry succeeds.
    monkeypatch.undo()
    monkeypatch.setattr(policy_lib, "CLOCK", clock)
    clock.now = datetime.now(timezone.utc) + TICK  # the failed run's end time is real time
    (retry,) = tick().run_requests
    assert retry.run_key == request.run_key + "#2"
    assert run(retry).success
    ids = [s.snapshot_id for s in store.list_snapshots("dp-test")]
    assert "dp-rpo-old" not in ids and "dp-rpo-older" not in ids and len(ids) == 1


def test_missing_warehouse_is_reported_not_crashed(tmp_path, clock):
    store = LocalSnapshotStore(tmp_path / "snapshots", {"dp-test": tmp_path / "nothing.duckdb"}, clock=clock)
    requests, events, messages = evaluate_policy(POLICY, store, T0, TICK, lambda key: None)
    assert requests == []
    (check,) = events
    assert not check.passed and "does not exist yet" in check.description
    assert any("does not exist yet" in m for m in messages)


def test_missing_warehouse_inventory_materialises_with_a_clear_error(tmp_path, clock):
    from assets.warehouse_ops.assets import inventory_asset

    store = LocalSnapshotStore(tmp_path / "snapshots", {"dp-test": tmp_path / "nothing.duckdb"}, clock=clock)
    result = dg.materialize([inventory_asset(POLICY)], resources={"snapshots": store})
    assert result.success
    metadata = result.asset_materializations_for_node(POLICY.op_name)[0].metadata
    assert metadata["warehouse_exists"].value is False and "does not exist yet" in metadata["error"].value
    assert [c.passed for c in result.get_asset_check_evaluations()] == [False]


class ThrottledStore:
    def list_snapshots(self, cluster, namespace=None):
        raise Throttled("redshift describe_cluster_snapshots: still throttled after 6 attempts")


def test_throttling_skips_the_tick_without_requests_or_verdicts():
    requests, events, messages = evaluate_policy(POLICY, ThrottledStore(), T0, TICK, lambda key: None)
    assert (requests, events) == ([], [])
    assert "still throttled" in messages[0]


class ListStore:
    def __init__(self, snapshots):
        self.snapshots = snapshots

    def list_snapshots(self, cluster, namespace=None):
        return list(self.snapshots)


def test_snapshot_still_creating_is_waited_for():
    store = ListStore([snap("a", T0 - timedelta(hours=2)), snap("b", T0 - timedelta(minutes=3), status=CREATING)])
    requests, _, messages = evaluate_policy(POLICY, store, T0, TICK, lambda key: None)
    assert requests == [] and "still creating" in messages[-1]


def test_run_states_decide_the_attempt():
    store = ListStore([snap("a", T0 - timedelta(hours=2))])
    key = "snapshot-rpo:warehouse:20261124T100000Z"
    states = {}
    def request_keys():
        return [r.run_key for r in evaluate_policy(POLICY, store, T0, TICK, states.get)[0]]

    assert request_keys() == [key]
    states[key] = (RUNNING, None)
    assert request_keys() == []
    states[key] = (FAILED, T0 - timedelta(seconds=30))
    assert request_keys() == []
    states[key] = (FAILED, T0 - TICK)
    assert request_keys() == [key + "#2"]
    states[key + "#2"] = (DONE, T0 - timedelta(minutes=10))  # succeeded, yet the window is still open
    assert request_keys() == [key + "#3"]


def test_policy_that_cannot_be_met_is_refused():
    with pytest.raises(ValueError, match="shorter than the RPO"):
        snapshot_rpo_sensor([POLICY], interval_seconds=56 * 60)


def test_policy_file_loads():
    policies = policy_lib.snapshot_policies()
    assert policies and all(p.rpo_minutes > 0 and p.namespace and p.key_tables for p in policies.values())
    assert snapshot_rpo_sensor().name == "snapshot_rpo"


# --- retention independent of snapshot creation (quota recovery, prune-only runs) ---------------


def backdated(store, clock, snapshot_id, created, namespace="dataplatform-rpo", kind=MANUAL):
    clock.now = created
    tags = {NAMESPACE_TAG: namespace} if namespace else {}
    store.create_snapshot("dp-test", snapshot_id, tags=tags, key_tables=[], kind=kind)


def test_a_reached_quota_is_freed_by_pruning_and_the_snapshot_retried_in_the_same_run(platform, store, clock):
    tick, run, _ = platform
    old = T0 - timedelta(days=30)
    backdated(store, clock, "dp-rpo-a", old)
    backdated(store, clock, "dp-rpo-b", old + timedelta(hours=1))
    backdated(store, clock, "theirs-1", old, namespace="another-team")
    store.manual_snapshot_quota = 3  # reached: 3 manual snapshots
    clock.now = T0
    (request,) = tick().run_requests
    result = run(request)
    assert result.success
    # dp-rpo-a (ours, past retention, not our newest) made room and the snapshot was retried; once
    # it is available, dp-rpo-b is no longer our newest and goes too. Another namespace's stays.
    assert sorted(s.snapshot_id for s in store.list_snapshots("dp-test")) == ["dp-rpo-20261124-120000", "theirs-1"]
    metadata = result.asset_materializations_for_node(POLICY.op_name)[0].metadata
    assert metadata["snapshot_taken"].value == "dp-rpo-20261124-120000"
    assert metadata["pruned"].value == ["dp-rpo-a", "dp-rpo-b"]
    assert tick().run_requests == []


def test_a_reached_quota_with_nothing_to_prune_fails_and_deletes_nothing(platform, store, clock):
    tick, run, _ = platform
    backdated(store, clock, "dp-rpo-recent", T0 - timedelta(days=2))
    backdated(store, clock, "theirs-old", T0 - timedelta(days=30), namespace="another-team")
    store.manual_snapshot_quota = 2
    clock.now = T0
    (request,) = tick().run_requests
    failed = run(request)
    assert not failed.success
    reason = failed.failure_data_for_node(POLICY.op_name).user_failure_data.description
    assert "quota" in reason and "nothing pruned" in reason
    assert sorted(s.snapshot_id for s in store.list_snapshots("dp-test")) == ["dp-rpo-recent", "theirs-old"]


def test_a_quota_pruning_cannot_free_is_retried_once_and_reports_what_was_pruned(platform, store, clock, monkeypatch):
    tick, run, _ = platform
    old = T0 - timedelta(days=30)
    backdated(store, clock, "dp-rpo-a", old)
    backdated(store, clock, "dp-rpo-b", old + timedelta(hours=1))
    backdated(store, clock, "theirs-1", old, namespace="another-team")
    store.manual_snapshot_quota = 2  # pruning dp-rpo-a leaves 2: still at the quota
    attempts = []
    real_create = store.create_snapshot
    monkeypatch.setattr(store, "create_snapshot", lambda *a, **k: attempts.append(a[1]) or real_create(*a, **k))
    clock.now = T0
    (request,) = tick().run_requests
    failed = run(request)
    assert not failed.success
    assert attempts == ["dp-rpo-20261124-120000"] * 2  # the refused create and one retry
    reason = failed.failure_data_for_node(POLICY.op_name).user_failure_data.description
    assert "pruned dp-rpo-a to free the quota" in reason and "quota of 2" in reason
    assert sorted(s.snapshot_id for s in store.list_snapshots("dp-test")) == ["dp-rpo-b", "theirs-1"]


def test_retention_is_enforced_when_automated_snapshots_keep_the_rpo(platform, store, clock):
    tick, run, _ = platform
    old = T0 - timedelta(days=30)
    for n, snapshot_id in enumerate(("dp-rpo-a", "dp-rpo-b", "dp-rpo-c")):
        backdated(store, clock, snapshot_id, old + timedelta(hours=n))
    backdated(store, clock, "theirs-1", old, namespace="another-team")
    backdated(store, clock, "auto-old", old, namespace=None, kind=AUTOMATED)
    backdated(store, clock, "auto-new", T0 - timedelta(minutes=10), namespace=None, kind=AUTOMATED)
    clock.now = T0
    first = tick()
    (request,) = first.run_requests  # no snapshot is due (auto-new is 10 min old): a prune-only run
    assert request.run_key.startswith("snapshot-prune:warehouse:")
    assert [c.passed for c in check_events(first)] == [True]
    result = run(request)
    assert result.success
    assert sorted(s.snapshot_id for s in store.list_snapshots("dp-test")) == [
        "auto-new", "auto-old", "dp-rpo-c", "theirs-1"]  # no snapshot was taken
    assert sorted(result.asset_materializations_for_node(POLICY.op_name)[0].metadata["pruned"].value) == [
        "dp-rpo-a", "dp-rpo-b"]
    assert tick().run_requests == []  # nothing left to prune


def test_prune_run_key_follows_the_candidate_set_and_failed_runs_are_retried():
    old = T0 - timedelta(days=30)
    fresh = snap("auto", T0 - timedelta(minutes=5), AUTOMATED, None)
    two = ListStore([snap("a", old), snap("b", old + timedelta(hours=1)), snap("c", old + timedelta(hours=2)), fresh])
    one = ListStore([snap("b", old + timedelta(hours=1)), snap("c", old + timedelta(hours=2)), fresh])
    states = {}

    def keys(store):
        return [r.run_key for r in evaluate_policy(POLICY, store, T0, TICK, states.get)[0]]

    (key,) = keys(two)
    assert key.startswith("snapshot-prune:warehouse:") and keys(two) == [key]
    (other,) = keys(one)
    assert other != key
    states[key] = (RUNNING, None)
    assert keys(two) == []
    states[key] = (FAILED, T0 - timedelta(seconds=30))
    assert keys(two) == []
    states[key] = (FAILED, T0 - TICK)
    assert keys(two) == [key + "#2"]
    # Nothing past retention (or only what is protected): no prune run.
    assert keys(ListStore([snap("c", old), fresh])) == []
    # A listing error: no run at all (nothing is deleted after a listing error).
    assert evaluate_policy(POLICY, ThrottledStore(), T0, TICK, states.get)[0] == []


# --- the restore drill's policy: the scratch target is never a warehouse ------------------------


def drill_config(**scratch_targets) -> dict:
    def spec(cluster, local_file, scratch):
        return {"domain": "warehouse_ops", "cluster": cluster, "local_file": local_file, "rpo_minutes": 60,
                "retention_days": 7, "namespace": f"ns-{cluster}", "snapshot_prefix": cluster,
                "restore_drill": {"cron": "0 5 * * 0", "scratch_target": scratch, "rto_minutes": 60}}

    return {"warehouses": {
        "one": spec("dp-one", "one.duckdb", scratch_targets.get("one", "dp-one-drill")),
        "two": spec("dp-two", "two-wh.duckdb", scratch_targets.get("two", "dp-two-drill")),
    }}


def test_a_scratch_target_naming_a_warehouse_is_refused_when_policies_load():
    assert set(policy_lib.policies_from_config(drill_config())) == {"one", "two"}
    with pytest.raises(ValueError, match="one: restore_drill.scratch_target 'dp-one' is the cluster of one"):
        policy_lib.policies_from_config(drill_config(one="dp-one"))
    with pytest.raises(ValueError, match="two: restore_drill.scratch_target 'dp-one' is the cluster of one"):
        policy_lib.policies_from_config(drill_config(two="dp-one"))
    with pytest.raises(ValueError, match="scratch_target 'two-wh' is the local file of two"):
        policy_lib.policies_from_config(drill_config(one="two-wh"))
    with pytest.raises(ValueError, match="scratch_target 'dp-shared' is also the scratch target of one"):
        policy_lib.policies_from_config(drill_config(one="dp-shared", two="dp-shared"))


# --- the restore drill's verdict -----------------------------------------------------------------


def test_a_drill_with_no_recorded_count_is_not_verified():
    missing = {"marts.a": None, "marts.b": None}
    nothing = policy_lib.DrillResult(snap("a", T0), None, missing, dict(missing), 1.0)
    assert not nothing.verified and nothing.mismatches == {}
    some = policy_lib.DrillResult(snap("a", T0), None, {"marts.a": 3, "marts.b": None}, {"marts.a": 3, "marts.b": None}, 1.0)
    assert some.verified
