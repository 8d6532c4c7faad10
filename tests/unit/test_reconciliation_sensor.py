"""The reconciliation sensor at tick level: the whole zone against its ledger."""

from __future__ import annotations

import gzip
from datetime import datetime, timedelta, timezone

import dagster as dg
import pytest

from assets.cloudfront import assets as cloudfront
from dataplatform.landing_zones import zone
from dataplatform.resources.catalog import LocalCatalog
from dataplatform.ledger import Ledger, reconcile
from dataplatform.resources.lake import LocalObjectStore
from dataplatform.run_attempts import FAILED, RUNNING
from sensors.reconciliation import ACCOUNTED_FOR, reconciliation_sensor, requests_for
from sensors.s3_arrivals import run_request

CF = zone("cloudfront")
NOW = datetime.now(timezone.utc).replace(minute=30, second=0, microsecond=0)
HOUR = NOW.replace(minute=0)


@pytest.fixture
def lake(tmp_path):
    return LocalObjectStore(tmp_path / "lake")


def deliver(lake, hour: datetime, unique: str) -> str:
    key = f"cloudfront/E1AAA.{hour:%Y-%m-%d-%H}.{unique}.gz"
    info = lake.put("landing", key, gzip.compress(f"#Version: 1.0 {unique}\n".encode(), mtime=0))
    return f"{key}@{info.etag}"


def tick(lake):
    sensor = reconciliation_sensor(CF)
    defs = dg.Definitions(assets=[cloudfront.landing_access_logs, cloudfront.cloudfront_raw], sensors=[sensor],
                          resources={"lake": lake, "catalog": LocalCatalog(lake.root.parent / "catalog.sqlite")})
    context = dg.build_sensor_context(resources={"lake": lake}, instance=dg.DagsterInstance.ephemeral(), definitions=defs)
    result = sensor.evaluate_tick(context)
    [check] = [e for e in result.asset_events if isinstance(e, dg.AssetCheckEvaluation)]
    assert check.check_name == ACCOUNTED_FOR
    return result, check


def test_processed_objects_pass_and_old_unprocessed_ones_are_requested(lake):
    old_hour = HOUR - timedelta(days=3)  # long before any arrival watermark's lateness
    processed = deliver(lake, HOUR - timedelta(hours=1), "a")
    Ledger(lake, CF).record(HOUR - timedelta(hours=1), dict([processed.split("@")]), "run-1")
    result, check = tick(lake)
    assert check.passed and result.run_requests == []

    late = [deliver(lake, old_hour, "b"), deliver(lake, old_hour + timedelta(hours=1), "c")]
    result, check = tick(lake)
    assert not check.passed and "2 unprocessed in 2 hours" in check.description
    [request] = result.run_requests  # one run over the contiguous hours
    assert request.run_key == run_request(CF, old_hour, old_hour + timedelta(hours=1), late).run_key
    assert request.tags["dagster/asset_partition_range_start"] == f"{old_hour:%Y-%m-%d-%H}:00"


def test_a_changed_etag_is_unprocessed_again(lake):
    obj = deliver(lake, HOUR, "a")
    Ledger(lake, CF).record(HOUR, dict([obj.split("@")]), "run-1")
    lake.put("landing", obj.split("@")[0], b"re-sent")  # same key, new content
    assert list(reconcile(CF, lake, NOW).unprocessed) == [HOUR]


def test_outside_retention_and_invalid_keys_are_reported_not_requested(lake):
    ancient = HOUR - CF.retention - timedelta(days=2)
    deliver(lake, ancient, "old")
    lake.put("landing", "cloudfront/not-a-log.txt", b"x")
    result, check = tick(lake)
    assert result.run_requests == [] and not check.passed
    assert "1 older than the 400-day retention" in check.description and "1 not matching" in check.description


def test_a_failed_attempt_is_retried_under_a_new_key_a_running_one_waited_for():
    result = reconcile(CF, LocalObjectStore("/nonexistent"), NOW)  # empty: build one by hand
    result.unprocessed = {HOUR: ["cloudfront/E1AAA.x.gz@e"]}
    base = run_request(CF, HOUR, HOUR, ["cloudfront/E1AAA.x.gz@e"]).run_key
    states = {}
    [first], _ = requests_for(CF, result, NOW, states.get)
    assert first.run_key == base
    states[base] = (RUNNING, None)
    assert requests_for(CF, result, NOW, states.get)[0] == []
    states[base] = (FAILED, NOW - timedelta(seconds=1))
    [retry], _ = requests_for(CF, result, NOW, states.get)
    assert retry.run_key == f"{base}#2"
