"""The arrival sensor at tick level: run requests and the new cursor for given deliveries."""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta, timezone

import dagster as dg
import pytest

from assets.cloudfront import assets as cloudfront
from dataplatform.resources.arrivals import NoArrivalQueue
from dataplatform.resources.catalog import LocalCatalog
from dataplatform.resources.lake import LocalObjectStore
from dataplatform.landing_zones import zone
from sensors import s3_arrivals

CLOUDFRONT = zone("cloudfront")
TARGETS = [dg.AssetKey.from_user_string(t) for t in CLOUDFRONT.targets]

T0 = datetime(2026, 11, 20, tzinfo=timezone.utc)
NOW = datetime(2026, 11, 26, 12, 30, tzinfo=timezone.utc)


class CountingStore(LocalObjectStore):
    """Counts the objects its listings return: the sensor's cost."""

    listed = 0

    def list(self, bucket, prefix="", start_after=""):
        for info in super().list(bucket, prefix, start_after):
            self.listed += 1
            yield info


@pytest.fixture
def lake(tmp_path):
    return CountingStore(tmp_path / "lake")


def deliver(lake, distribution: str, hour: datetime, unique: str, body: bytes = b"x") -> str:
    key = f"cloudfront/{distribution}.{hour:%Y-%m-%d-%H}.{unique}.gz"
    lake.put("landing", key, gzip.compress(body, mtime=0))
    return key


def tick(lake, cursor=None, now=NOW):
    """One evaluation with an injected clock."""
    return s3_arrivals.evaluate(CLOUDFRONT, lake, cursor, now)


def hours_of(request: dg.RunRequest) -> tuple[str, str]:
    start = request.tags.get("dagster/asset_partition_range_start", request.partition_key)
    end = request.tags.get("dagster/asset_partition_range_end", request.partition_key)
    return start, end


def test_first_tick_requests_one_run_per_contiguous_range(lake):
    for h in (0, 1, 2, 5):
        deliver(lake, "E1AAA", T0 + timedelta(hours=h), f"a{h}")
        deliver(lake, "E2BBB", T0 + timedelta(hours=h), f"b{h}")
    requests, cursor, stats = tick(lake)
    assert sorted(hours_of(r) for r in requests) == [
        ("2026-11-20-00:00", "2026-11-20-02:00"),
        ("2026-11-20-05:00", "2026-11-20-05:00"),
    ]
    assert all(r.asset_selection == TARGETS for r in requests)
    single = next(r for r in requests if r.partition_key)
    assert single.partition_key == "2026-11-20-05:00" and single.tags["dataplatform/objects"] == "2"
    state = json.loads(cursor)
    assert state["watermark"] == "2026-11-20-05" and len(state["seen"]) == 8
    assert stats["new"] == 8


def test_run_key_is_made_of_object_keys_and_etags(lake):
    deliver(lake, "E1AAA", T0, "a", b"one")
    first, cursor, _ = tick(lake)
    # Same key, new content (new ETag): a new run for the same hour, with a different run key.
    deliver(lake, "E1AAA", T0, "a", b"two")
    second, _, _ = tick(lake, cursor)
    assert [r.partition_key for r in second] == ["2026-11-20-00:00"]
    assert second[0].run_key != first[0].run_key
    # Replaying the same tick (same cursor) gives the same run key: the daemon will not run it twice.
    replay, _, _ = tick(lake, cursor)
    assert replay[0].run_key == second[0].run_key


def test_redelivered_identical_file_requests_nothing(lake):
    key = deliver(lake, "E1AAA", T0, "a", b"same")
    _, cursor, _ = tick(lake)
    lake.put("landing", key, gzip.compress(b"same", mtime=0))
    requests, new_cursor, _ = tick(lake, cursor)
    assert requests == [] and new_cursor == cursor


def test_late_file_reopens_its_old_hour_only(lake):
    for h in range(6):
        deliver(lake, "E1AAA", T0 + timedelta(hours=h), f"a{h}")
    _, cursor, _ = tick(lake)
    deliver(lake, "E1AAA", T0 + timedelta(hours=1), "late")
    requests, cursor2, _ = tick(lake, cursor)
    assert [r.partition_key for r in requests] == ["2026-11-20-01:00"]
    assert json.loads(cursor2)["watermark"] == "2026-11-20-05"


def test_listing_cost_follows_new_deliveries_not_history(lake):
    for day in range(5):
        for h in range(24):
            deliver(lake, "E1AAA", T0 + timedelta(days=day, hours=h), f"a{day}{h}")
    _, cursor, _ = tick(lake)
    history = lake.listed
    lake.listed = 0
    deliver(lake, "E1AAA", T0 + timedelta(days=5), "new")
    requests, _, stats = tick(lake, cursor)
    assert [r.partition_key for r in requests] == ["2026-11-25-00:00"]
    # Only the lateness window (26 h) is listed again, not the 120 hours of history.
    assert lake.listed == stats["listed"] <= 28 < history == 120


def test_file_for_a_future_hour_waits_until_its_partition_exists(lake):
    future = NOW.replace(minute=0) + timedelta(hours=2)
    deliver(lake, "E1AAA", future, "early")
    requests, cursor, stats = tick(lake)
    assert requests == [] and stats["waiting"] == 1
    requests, _, _ = tick(lake, cursor, now=future + timedelta(minutes=5))
    assert [r.partition_key for r in requests] == [f"{future:%Y-%m-%d-%H}:00"]


def test_badly_named_objects_are_skipped_and_reported(lake):
    lake.put("landing", "cloudfront/E1AAA.2026-13-45-99.x.gz", b"x")
    lake.put("landing", "cloudfront/E1AAA.notes.txt", b"x")
    deliver(lake, "E1AAA", T0, "ok")
    requests, cursor, stats = tick(lake)
    assert [r.partition_key for r in requests] == ["2026-11-20-00:00"]
    assert stats["rejected"] == 2 and stats["rejected_keys"] == [
        "cloudfront/E1AAA.2026-13-45-99.x.gz",
        "cloudfront/E1AAA.notes.txt",
    ]
    assert list(json.loads(cursor)["seen"]) == ["cloudfront/E1AAA.2026-11-20-00.ok.gz"]
    # Reported once, not at every tick.
    _, _, again = tick(lake, cursor)
    assert again["rejected"] == 0


def test_decorated_sensor_resumes_from_its_cursor(lake, tmp_path):
    sensor = s3_arrivals.arrival_sensor(zone("cloudfront"))
    defs = dg.Definitions(
        assets=[cloudfront.landing_access_logs, cloudfront.cloudfront_raw],
        sensors=[sensor],
        resources={"lake": lake, "catalog": LocalCatalog(tmp_path / "catalog.sqlite"), "arrivals": NoArrivalQueue()},
    )
    ports, instance = {"lake": lake, "arrivals": NoArrivalQueue()}, dg.DagsterInstance.ephemeral()
    deliver(lake, "E1AAA", T0, "a")
    first = sensor.evaluate_tick(dg.build_sensor_context(cursor=None, resources=ports, definitions=defs, instance=instance))
    assert [r.partition_key for r in first.run_requests] == ["2026-11-20-00:00"]
    assert json.loads(first.cursor)["watermark"] == "2026-11-20-00"

    deliver(lake, "E1AAA", T0 + timedelta(hours=1), "b")
    second = sensor.evaluate_tick(dg.build_sensor_context(cursor=first.cursor, resources=ports, definitions=defs, instance=instance))
    assert [r.partition_key for r in second.run_requests] == ["2026-11-20-01:00"]
    assert json.loads(second.cursor)["watermark"] == "2026-11-20-01"
