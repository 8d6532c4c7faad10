"""The SnapshotStore contract: every test runs against LocalSnapshotStore (copies of a real DuckDB
file) and RedshiftSnapshotStore (moto's Redshift on 127.0.0.1).

moto gives Redshift's control plane only. The data plane the Redshift adapter reads through its
row counter (the Data API in production) is a small fake here: each cluster holds row counts;
a snapshot captures its cluster's counts and a restore hands the snapshot's counts to the new
cluster, hooked onto the real boto3 calls. What moto does not do is injected at the HTTP
layer (botocore before-send: throttling, quota) or set on its in-process backend (snapshot
age and `creating` status).
"""

from __future__ import annotations

import errno
import shutil
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone

import boto3
import duckdb
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from dataplatform.resources.snapshots import (
    AUTOMATED,
    AVAILABLE,
    CREATING,
    MANUAL,
    NAMESPACE_TAG,
    ClusterNotFound,
    LocalSnapshotStore,
    ProtectedSnapshot,
    QuotaExceeded,
    RedshiftSnapshotStore,
    SnapshotExists,
    SnapshotNotFound,
    SnapshotNotReady,
    StorageFull,
    Throttled,
    WarehouseBusy,
)
from .conftest import REGION

TABLES = ["marts.cloudfront_top_viewers", "marts.vpc_top_talkers", "marts.not_built_yet"]
NS = "dataplatform-rpo"


class LocalHarness:
    kind = "local"

    def __init__(self, tmp_path):
        self.home = tmp_path / "home"
        self.home.mkdir()
        self.cluster = "dp-test"
        self.warehouse = self.home / "warehouse.duckdb"
        self.store = LocalSnapshotStore(self.home / "snapshots", {self.cluster: self.warehouse, "dp-unbuilt": self.home / "none.duckdb"})
        self.sleeps: list[float] = []
        self.automated = 0

    def load(self, counts: dict[str, int]) -> None:
        con = duckdb.connect(str(self.warehouse))
        try:
            for table, n in counts.items():
                schema, _ = table.split(".")
                con.execute(f"create schema if not exists {schema}")
                con.execute(f"create or replace table {table} as select range as id, 'x' || range as v from range({n})")
            con.execute("create or replace view marts.viewers_v as select * from warehouse.marts.cloudfront_top_viewers")
        finally:
            con.close()

    def make_automated(self) -> str:
        self.automated += 1
        snapshot_id = f"auto-{self.automated}"
        self.store.create_snapshot(self.cluster, snapshot_id, tags={}, key_tables=[], kind=AUTOMATED)
        return snapshot_id

    def _edit(self, snapshot_id, **changes):
        import json

        path = self.store.root / self.cluster / f"{snapshot_id}.json"
        raw = json.loads(path.read_text())
        raw.update(changes)
        path.write_text(json.dumps(raw))

    def backdate(self, snapshot_id: str, created: datetime) -> None:
        self._edit(snapshot_id, created=created.isoformat())

    def set_status(self, snapshot_id: str, status: str) -> None:
        self._edit(snapshot_id, status=status)

    def exceed_quota(self) -> None:
        self.store.manual_snapshot_quota = sum(s.kind == MANUAL for s in self.store.list_snapshots(self.cluster))

    def missing_cluster(self) -> str:
        return "dp-unbuilt"


class FakeRedshiftData:
    """The data plane moto lacks: row counts per cluster and per snapshot."""

    def __init__(self):
        self.clusters: dict[str, dict[str, int]] = {}
        self.snapshots: dict[str, dict[str, int]] = {}

    def count_rows(self, cluster, tables):
        data = self.clusters.get(cluster, {})
        return {table: data.get(table) for table in tables}

    def on_created(self, parsed, **_):
        snapshot = parsed.get("Snapshot")
        if snapshot:
            self.snapshots[snapshot["SnapshotIdentifier"]] = dict(self.clusters.get(snapshot["ClusterIdentifier"], {}))

    def on_restore(self, params, **_):
        self.clusters[params["ClusterIdentifier"]] = dict(self.snapshots.get(params["SnapshotIdentifier"], {}))


class _Body:
    def __init__(self, body: bytes):
        self.body = body

    def stream(self, **_):
        yield self.body


def error_response(code: str, message: str) -> AWSResponse:
    body = (
        '<ErrorResponse xmlns="http://redshift.amazonaws.com/doc/2012-12-01/"><Error><Type>Sender</Type>'
        f"<Code>{code}</Code><Message>{message}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"
    ).encode()
    return AWSResponse("http://127.0.0.1/", 400, {"Content-Type": "text/xml"}, _Body(body))


class AwsHarness:
    kind = "aws"

    def __init__(self, endpoint):
        from moto.core.models import DEFAULT_ACCOUNT_ID
        from moto.redshift.models import redshift_backends

        self.client = boto3.client(
            "redshift", endpoint_url=endpoint, region_name=REGION, aws_access_key_id="testing",
            aws_secret_access_key="testing", aws_session_token="testing",
            config=Config(retries={"total_max_attempts": 1}),  # only the adapter retries (and its sleep is recorded)
        )
        self.data = FakeRedshiftData()
        self.client.meta.events.register("after-call.redshift.CreateClusterSnapshot", self.data.on_created)
        self.client.meta.events.register("provide-client-params.redshift.RestoreFromClusterSnapshot", self.data.on_restore)
        self.sleeps: list[float] = []
        self.store = RedshiftSnapshotStore(self.client, self.data, sleep=self.sleeps.append, poll_seconds=10)
        self.backend = redshift_backends[DEFAULT_ACCOUNT_ID][REGION]
        self.cluster = f"dp-{uuid.uuid4().hex[:12]}"
        self.client.create_cluster(
            ClusterIdentifier=self.cluster, NodeType="ra3.xlplus", MasterUsername="admin",
            MasterUserPassword="Password1", ClusterType="single-node",
        )
        # moto takes an automated snapshot at creation; the contract starts from no snapshots.
        for snapshot_id in [s.snapshot_identifier for s in self.backend.snapshots.values() if s.cluster_identifier == self.cluster]:
            del self.backend.snapshots[snapshot_id]

    def load(self, counts: dict[str, int]) -> None:
        self.data.clusters.setdefault(self.cluster, {}).update(counts)

    def make_automated(self) -> str:
        snapshot_id = f"rs:{self.cluster}-{uuid.uuid4().hex[:8]}"
        self.backend.create_cluster_snapshot(self.cluster, snapshot_id, REGION, None, snapshot_type="automated")
        return snapshot_id

    def backdate(self, snapshot_id: str, created: datetime) -> None:
        self.backend.snapshots[snapshot_id].create_time = created.astimezone(timezone.utc).replace(tzinfo=None)

    def set_status(self, snapshot_id: str, status: str) -> None:
        self.backend.snapshots[snapshot_id].status = status

    def fail(self, operation: str, code: str, times: int | None = None) -> list:
        calls = []

        def handler(**_):
            calls.append(code)
            if times is None or len(calls) <= times:
                return error_response(code, f"injected {code}")
            return None

        self.client.meta.events.register(f"before-send.redshift.{operation}", handler)
        return calls

    def exceed_quota(self) -> None:
        self.fail("CreateClusterSnapshot", "ClusterSnapshotQuotaExceeded")

    def missing_cluster(self) -> str:
        return f"dp-gone-{uuid.uuid4().hex[:8]}"

    def close(self) -> None:
        """Snapshot identifiers are unique per account and region: free this test's for the next."""
        restored = [c for c in self.backend.clusters if c == "dp-drill"]
        for cluster in [self.cluster, *restored]:
            self.backend.clusters.pop(cluster, None)
        for snapshot_id in [k for k, s in self.backend.snapshots.items() if s.cluster_identifier in (self.cluster, *restored)]:
            del self.backend.snapshots[snapshot_id]


@pytest.fixture(params=["local", "aws"])
def env(request, tmp_path):
    if request.param == "local":
        harness = LocalHarness(tmp_path)
    else:
        harness = AwsHarness(request.getfixturevalue("moto_endpoint"))
    harness.load({"marts.cloudfront_top_viewers": 50, "marts.vpc_top_talkers": 7})
    yield harness
    if harness.kind == "aws":
        harness.close()


def take(env, snapshot_id, namespace=NS, tables=TABLES):
    return env.store.create_snapshot(env.cluster, snapshot_id, tags={NAMESPACE_TAG: namespace, "team": "data"}, key_tables=tables)


def ids(snapshots):
    return [s.snapshot_id for s in snapshots]


def test_missing_cluster_is_reported_clearly(env):
    missing = env.missing_cluster()
    with pytest.raises(ClusterNotFound, match=missing):
        env.store.list_snapshots(missing)
    with pytest.raises(ClusterNotFound):
        env.store.create_snapshot(missing, "dp-rpo-1", tags={}, key_tables=TABLES)


def test_local_missing_warehouse_file_says_it_is_not_built_yet(tmp_path):
    store = LocalSnapshotStore(tmp_path / "snapshots", {"warehouse": tmp_path / "warehouse.duckdb"})
    with pytest.raises(ClusterNotFound, match="does not exist yet"):
        store.list_snapshots("warehouse")


def test_create_records_tags_type_and_row_counts(env):
    before = datetime.now(timezone.utc) - timedelta(seconds=5)
    assert env.store.list_snapshots(env.cluster) == []
    created = take(env, "dp-rpo-20260101-000000")
    snapshot = env.store.wait_until_available(env.cluster, created.snapshot_id, timeout_seconds=60)
    assert (snapshot.kind, snapshot.status, snapshot.cluster) == (MANUAL, AVAILABLE, env.cluster)
    assert snapshot.tags[NAMESPACE_TAG] == NS and snapshot.tags["team"] == "data" and snapshot.namespace == NS
    assert before <= snapshot.created <= datetime.now(timezone.utc) + timedelta(seconds=5)
    # A missing table is recorded as missing, not as an error.
    assert dict(snapshot.row_counts) == {"marts.cloudfront_top_viewers": 50, "marts.vpc_top_talkers": 7, "marts.not_built_yet": None}
    (listed,) = env.store.list_snapshots(env.cluster)
    assert listed.snapshot_id == snapshot.snapshot_id and dict(listed.row_counts) == dict(snapshot.row_counts)
    if env.kind == "local":
        assert listed.size_bytes == env.warehouse.stat().st_size + (
            (env.warehouse.parent / "warehouse.duckdb.wal").stat().st_size if (env.warehouse.parent / "warehouse.duckdb.wal").exists() else 0
        )


def test_identifiers_and_duplicates(env):
    take(env, "dp-rpo-1")
    with pytest.raises(SnapshotExists):
        take(env, "dp-rpo-1")
    for bad in ("Upper", "1starts-with-digit", "double--hyphen", "ends-", "has_underscore", ""):
        with pytest.raises(ValueError):
            take(env, bad)
    with pytest.raises(ValueError):
        take(env, "dp-rpo-2", tables=["marts.x; drop table y"])
    assert ids(env.store.list_snapshots(env.cluster)) == ["dp-rpo-1"]


def test_listing_covers_both_types_oldest_first_and_filters_by_namespace(env):
    now = datetime.now(timezone.utc)
    auto = env.make_automated()
    take(env, "dp-rpo-a")
    take(env, "other-b", namespace="someone-else")
    take(env, "dp-rpo-c")
    for age, snapshot_id in ((4, auto), (3, "dp-rpo-a"), (2, "other-b"), (1, "dp-rpo-c")):
        env.backdate(snapshot_id, now - timedelta(hours=age))
    listed = env.store.list_snapshots(env.cluster)
    assert ids(listed) == [auto, "dp-rpo-a", "other-b", "dp-rpo-c"]
    assert [s.kind for s in listed] == [AUTOMATED, MANUAL, MANUAL, MANUAL]
    assert abs(listed[0].created - (now - timedelta(hours=4))) < timedelta(seconds=1)
    assert ids(env.store.list_snapshots(env.cluster, namespace=NS)) == ["dp-rpo-a", "dp-rpo-c"]
    assert ids(env.store.list_snapshots(env.cluster, namespace="nobody")) == []


def test_delete_manual_only(env):
    auto = env.make_automated()
    take(env, "dp-rpo-1")
    env.store.delete_snapshot(env.cluster, "dp-rpo-1")
    with pytest.raises(ProtectedSnapshot):
        env.store.delete_snapshot(env.cluster, auto)
    with pytest.raises(SnapshotNotFound):
        env.store.delete_snapshot(env.cluster, "dp-rpo-1")
    assert ids(env.store.list_snapshots(env.cluster)) == [auto]


def test_wait_reports_a_snapshot_still_creating_without_sleeping(env):
    take(env, "dp-rpo-1")
    env.set_status("dp-rpo-1", CREATING)
    with pytest.raises(SnapshotNotReady, match="still creating"):
        env.store.wait_until_available(env.cluster, "dp-rpo-1", timeout_seconds=30)
    (listed,) = env.store.list_snapshots(env.cluster)
    assert listed.status == CREATING and not listed.available
    if env.kind == "aws":
        assert env.sleeps == [10, 10, 10]  # polled through the injected sleep
    env.set_status("dp-rpo-1", AVAILABLE)
    assert env.store.wait_until_available(env.cluster, "dp-rpo-1", timeout_seconds=30).available


def test_quota_exceeded_creates_nothing(env):
    take(env, "dp-rpo-1")
    env.exceed_quota()
    with pytest.raises(QuotaExceeded, match="quota"):
        take(env, "dp-rpo-2")
    assert ids(env.store.list_snapshots(env.cluster)) == ["dp-rpo-1"]


def test_restore_returns_the_snapshots_state_not_the_current_one(env):
    snapshot = take(env, "dp-rpo-1")
    env.load({"marts.cloudfront_top_viewers": 80, "marts.vpc_top_talkers": 9})  # the warehouse moves on
    counts = env.store.restore(env.cluster, snapshot.snapshot_id, "dp-drill", key_tables=TABLES, timeout_seconds=600)
    assert counts == dict(snapshot.row_counts) == {
        "marts.cloudfront_top_viewers": 50, "marts.vpc_top_talkers": 7, "marts.not_built_yet": None,
    }
    with pytest.raises(SnapshotExists):  # a leftover scratch target is not overwritten
        env.store.restore(env.cluster, snapshot.snapshot_id, "dp-drill", key_tables=TABLES, timeout_seconds=600)
    env.store.drop_restore("dp-drill")
    env.store.drop_restore("dp-drill")  # idempotent
    assert env.store.restore(env.cluster, snapshot.snapshot_id, "dp-drill", key_tables=TABLES, timeout_seconds=600) == counts
    env.store.drop_restore("dp-drill")


def contract_policy(env, **changes):
    from dataplatform.snapshots import RestoreDrillPolicy, SnapshotPolicy

    spec = dict(
        name="contract", domain="warehouse_ops", cluster=env.cluster, local_file="warehouse.duckdb", rpo_minutes=60,
        snapshot_lead_minutes=5, snapshot_timeout_minutes=30, retention_days=7, namespace=NS, snapshot_prefix="dp-rpo",
        key_tables=tuple(TABLES), restore_drill=RestoreDrillPolicy("0 5 * * 0", "dp-drill", 60),
    )
    return SnapshotPolicy(**{**spec, **changes})


def test_quota_recovery_prunes_only_what_it_may_then_retries_once(env):
    from dataplatform.snapshots import take_snapshot

    now = datetime.now(timezone.utc)
    auto = env.make_automated()
    for snapshot_id, namespace in (("dp-rpo-a", NS), ("dp-rpo-b", NS), ("other-old", "someone-else")):
        take(env, snapshot_id, namespace=namespace)
    for age, snapshot_id in ((40, auto), (31, "dp-rpo-a"), (30, "dp-rpo-b"), (32, "other-old")):
        env.backdate(snapshot_id, now - timedelta(days=age))
    if env.kind == "local":
        env.exceed_quota()  # 3 manual snapshots: pruning one makes room
    else:
        calls = env.fail("CreateClusterSnapshot", "ClusterSnapshotQuotaExceeded", times=1)
    pruned = []
    taken = take_snapshot(contract_policy(env), env.store, now, log=pruned.append)
    # dp-rpo-a frees the quota (dp-rpo-b is still the namespace's newest); after the retried
    # snapshot is available, dp-rpo-b goes too. Automated and other namespaces' snapshots stay.
    assert taken.pruned == ["dp-rpo-a", "dp-rpo-b"] and len(pruned) == 2
    assert taken.snapshot.snapshot_id == f"dp-rpo-{now:%Y%m%d-%H%M%S}" and taken.snapshot.available
    assert sorted(ids(env.store.list_snapshots(env.cluster))) == sorted([auto, "other-old", taken.snapshot.snapshot_id])
    if env.kind == "aws":
        assert len(calls) == 2  # the refused create and the one retry


def test_a_drill_never_drops_a_scratch_target_it_did_not_create(env):
    from dataplatform.snapshots import restore_drill

    take(env, "dp-rpo-1")
    # The scratch target exists already: a concurrent drill's copy, or a real warehouse by mistake.
    if env.kind == "local":
        existing = env.store.root / "_restores" / "dp-drill.duckdb"
        existing.parent.mkdir(parents=True)
        existing.write_bytes(b"another drill's copy")
    else:
        env.client.create_cluster(
            ClusterIdentifier="dp-drill", NodeType="ra3.xlplus", MasterUsername="admin",
            MasterUserPassword="Password1", ClusterType="single-node",
        )
    with pytest.raises(SnapshotExists):
        restore_drill(contract_policy(env), env.store)
    if env.kind == "local":
        assert existing.read_bytes() == b"another drill's copy"
    else:
        (cluster,) = env.client.describe_clusters(ClusterIdentifier="dp-drill")["Clusters"]
        assert cluster["ClusterStatus"] != "deleting"


# aws only: throttling and cluster checks at the HTTP layer.


@pytest.fixture
def aws(moto_endpoint):
    harness = AwsHarness(moto_endpoint)
    harness.load({"marts.cloudfront_top_viewers": 3})
    yield harness
    harness.close()


def test_aws_throttling_is_retried_with_backoff_through_the_injected_sleep(aws):
    calls = aws.fail("DescribeClusterSnapshots", "Throttling", times=3)
    take(aws, "dp-rpo-1")
    assert ids(aws.store.list_snapshots(aws.cluster)) == ["dp-rpo-1"]
    assert len(calls) == 4 and aws.sleeps == [0.5, 1.0, 2.0]


def test_aws_persistent_throttling_fails_clearly_and_changes_nothing(aws):
    take(aws, "dp-rpo-1")
    aws.fail("CreateClusterSnapshot", "ThrottlingException")
    with pytest.raises(Throttled, match="still throttled after 6 attempts"):
        take(aws, "dp-rpo-2")
    assert aws.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert ids(aws.store.list_snapshots(aws.cluster)) == ["dp-rpo-1"]


def test_aws_restore_into_the_source_cluster_is_refused(aws):
    take(aws, "dp-rpo-1")
    with pytest.raises(ValueError, match="source cluster"):
        aws.store.restore(aws.cluster, "dp-rpo-1", aws.cluster, key_tables=TABLES, timeout_seconds=60)


# local only: locks and a full disk.


@pytest.fixture
def local(tmp_path):
    harness = LocalHarness(tmp_path)
    harness.load({"marts.cloudfront_top_viewers": 12, "marts.vpc_top_talkers": 4})
    return harness


def test_local_copy_is_consistent_and_includes_an_unflushed_wal(local):
    con = duckdb.connect(str(local.warehouse))
    con.execute("pragma disable_checkpoint_on_shutdown")
    con.execute("insert into marts.cloudfront_top_viewers select range, 'late' from range(5)")
    con.close()
    assert (local.warehouse.parent / "warehouse.duckdb.wal").exists()
    snapshot = take(local, "dp-rpo-1")
    assert snapshot.row_counts["marts.cloudfront_top_viewers"] == 17
    counts = local.store.restore(local.cluster, "dp-rpo-1", "dp-drill", key_tables=[*TABLES, "marts.viewers_v"], timeout_seconds=60)
    assert counts["marts.cloudfront_top_viewers"] == 17 and counts["marts.viewers_v"] == 17


def test_local_locked_warehouse_fails_clearly_and_leaves_nothing(local):
    writer = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); sys.stdin.read()",
         str(local.warehouse)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "ready"
        with pytest.raises(WarehouseBusy, match="locked by a writer"):
            take(local, "dp-rpo-1")
    finally:
        writer.stdin.close()
        writer.wait(timeout=60)
    assert local.store.list_snapshots(local.cluster) == []
    assert not any((local.store.root / local.cluster).iterdir())
    take(local, "dp-rpo-1")  # the next attempt, once the writer is gone, succeeds


def test_local_disk_full_removes_the_partial_copy(local, monkeypatch):
    real_copy = shutil.copyfile

    def full_disk(src, dst, *args, **kwargs):
        real_copy(src, dst, *args, **kwargs)  # a partial file exists when the disk fills up
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(shutil, "copyfile", full_disk)
    with pytest.raises(StorageFull, match="disk full"):
        take(local, "dp-rpo-1")
    assert local.store.list_snapshots(local.cluster) == []
    assert not any((local.store.root / local.cluster).iterdir())
    monkeypatch.setattr(shutil, "copyfile", real_copy)
    assert take(local, "dp-rpo-1").available
