"""The clinical delivery sensor at tick level: only a complete delivery starts a load, once."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from assets.clinical import sample
from assets.clinical.format import LANDING_BUCKET, MANIFEST_NAME
from dataplatform.resources.catalog import LocalCatalog
from dataplatform.resources.lake import LocalObjectStore
from assets.clinical.assets import clinical_raw
from sensors.clinical_deliveries import clinical_delivery_sensor



@pytest.fixture(scope="module")
def tables():
    return sample.generate_tables(sample.SampleSpec(patients=5, seed=3))


@pytest.fixture
def lake(tmp_path):
    return LocalObjectStore(tmp_path / "lake")


def tick(lake, cursor=None):
    defs = dg.Definitions(assets=[clinical_raw], sensors=[clinical_delivery_sensor],
                          resources={"lake": lake, "catalog": LocalCatalog(lake.root.parent / "catalog.sqlite")})
    context = dg.build_sensor_context(cursor=cursor, resources={"lake": lake}, definitions=defs)
    return clinical_delivery_sensor.evaluate_tick(context)


def manifest_key(delivery: str) -> str:
    return f"clinical/mimic/{delivery}/{MANIFEST_NAME}"


def test_no_delivery_requests_nothing(lake):
    result = tick(lake)
    assert result.run_requests == [] and result.skip_message


def test_files_without_a_manifest_wait(lake, tables):
    sample.write_delivery(lake, tables, "d1")
    lake.delete(LANDING_BUCKET, manifest_key("d1"))
    result = tick(lake)
    assert result.run_requests == []


def test_a_manifest_naming_a_missing_or_short_file_waits(lake, tables):
    keys = sample.write_delivery(lake, tables, "d1")
    lake.delete(LANDING_BUCKET, next(k for k in keys if "LABEVENTS" in k))
    result = tick(lake)
    assert result.run_requests == [] and "LABEVENTS" in result.skip_message

    chart_key = next(k for k in keys if "CHARTEVENTS" in k)
    sample.write_delivery(lake, tables, "d2")
    short = lake.get(LANDING_BUCKET, chart_key.replace("d1", "d2"))[:-10]
    lake.put(LANDING_BUCKET, chart_key.replace("d1", "d2"), short)
    result = tick(lake)
    assert result.run_requests == [] and "bytes" in result.skip_message


def test_a_manifest_without_a_required_table_waits(lake, tables):
    sample.write_delivery(lake, {k: v for k, v in tables.items() if k != "PRESCRIPTIONS"}, "d1")
    result = tick(lake)
    assert result.run_requests == [] and "PRESCRIPTIONS not in manifest" in result.skip_message


def test_a_complete_delivery_is_requested_once(lake, tables):
    sample.write_delivery(lake, tables, "d1")
    first = tick(lake)
    [request] = first.run_requests
    assert request.run_key.startswith("mimic:d1:")
    assert request.run_config["ops"]["clinical_raw"]["config"]["delivery_id"] == "d1"
    assert first.cursor == request.run_key

    again = tick(lake, cursor=first.cursor)
    assert again.run_requests == [] and "already requested" in again.skip_message


def test_only_the_newest_complete_delivery_is_loaded(lake, tables):
    sample.write_delivery(lake, tables, "d1")
    cursor = tick(lake).cursor
    sample.write_delivery(lake, tables, "d2")
    sample.write_delivery(lake, tables, "d3")
    lake.delete(LANDING_BUCKET, manifest_key("d3"))  # d3 still arriving
    [request] = tick(lake, cursor=cursor).run_requests
    assert request.run_key.startswith("mimic:d2:")


def test_a_redelivered_manifest_is_a_new_run(lake, tables):
    sample.write_delivery(lake, tables, "d1")
    first = tick(lake)
    document = json.loads(lake.get(LANDING_BUCKET, manifest_key("d1")))
    document["created_at"] = "2100-01-01T00:00:00+00:00"
    lake.put(LANDING_BUCKET, manifest_key("d1"), json.dumps(document).encode())
    [request] = tick(lake, cursor=first.cursor).run_requests
    assert request.run_key != first.cursor and request.run_key.startswith("mimic:d1:")


def test_an_unreadable_manifest_is_reported_not_fatal(lake, tables):
    sample.write_delivery(lake, tables, "d1")
    lake.put(LANDING_BUCKET, manifest_key("d2"), b"{not json")
    [request] = tick(lake).run_requests
    assert request.run_key.startswith("mimic:d1:")


def test_a_reuploaded_file_under_the_same_manifest_is_a_new_run(lake, tables):
    keys = sample.write_delivery(lake, tables, "d1")
    first = tick(lake)
    data_key = next(k for k in keys if "CAREGIVERS" in k)
    data = bytearray(lake.get(LANDING_BUCKET, data_key))
    data[-9] ^= 0xFF  # same size: the manifest still "matches" by size; the load checks sha256
    lake.put(LANDING_BUCKET, data_key, bytes(data))
    [request] = tick(lake, cursor=first.cursor).run_requests
    assert request.run_key != first.cursor and request.run_key.startswith("mimic:d1:")


def _check(result):
    [check] = [e for e in result.asset_events if isinstance(e, dg.AssetCheckEvaluation)]
    assert check.check_name == "deliveries_complete"
    return check


def test_a_stuck_delivery_fails_the_landing_check_with_its_reason_on_every_tick(lake, tables):
    keys = sample.write_delivery(lake, tables, "d1")
    first = tick(lake)
    assert _check(first).passed
    # d2: a truncated file (independently: its real size against the manifest's); d3: no manifest.
    keys2 = sample.write_delivery(lake, tables, "d2")
    chart = next(k for k in keys2 if "CHARTEVENTS" in k)
    expected = len(lake.get(LANDING_BUCKET, chart))
    lake.put(LANDING_BUCKET, chart, lake.get(LANDING_BUCKET, chart)[: expected // 2])
    sample.write_delivery(lake, tables, "d3")
    lake.delete(LANDING_BUCKET, manifest_key("d3"))
    for _ in range(2):  # every tick, not only the first
        result = tick(lake, cursor=first.cursor)
        check = _check(result)
        assert not check.passed and result.run_requests == []
        assert f"{chart} has {expected // 2} bytes, manifest says {expected}" in check.description
        assert f"delivery d3: {len(keys) - 1} files and no manifest.json" in check.description
    # Resolved by a newer complete delivery: the stuck ones are superseded.
    sample.write_delivery(lake, tables, "d4")
    result = tick(lake, cursor=first.cursor)
    assert _check(result).passed and result.run_requests[0].run_key.startswith("mimic:d4:")
