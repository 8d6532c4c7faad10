"""The outreach_deliveries sensor at tick level: a complete delivery is requested once, a partial
one waits with its reason, a feed with a daily cut-off waits for it, a refused one is reported
and not requested again until its content changes, and objects outside any delivery are reported."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest

from assets.outreach import sample, state
from assets.outreach.sensor import CHECK, evaluate
from dataplatform.resources.kv import SqliteKeyValueStore
from dataplatform.resources.lake import LocalObjectStore

DAY = date(2026, 12, 6)
AFTER_CUTOFF = datetime(2026, 12, 7, 3, 0, tzinfo=timezone.utc)  # pharmacy_claims: cut-off 02:00 the next day


@pytest.fixture
def zone(tmp_path):
    lake, kv = LocalObjectStore(tmp_path / "lake"), SqliteKeyValueStore(tmp_path / "kv.sqlite")
    sample.generate(lake, sample.SampleSpec(members=20, outreaches=40, day=DAY, seed=3))
    return lake, kv


def tick(lake, kv, now=AFTER_CUTOFF, cursor=None, runs=None):
    return evaluate(lake, kv, cursor, now, lambda key: (runs or {}).get(key), lambda feed: set())


def test_complete_deliveries_are_requested_once_per_content(zone):
    lake, kv = zone
    requests, partitions, events, cursor, stats = tick(lake, kv)
    assert sorted(r.tags["dataplatform/outreach_delivery"] for r in requests) == [
        "members/2026-12-06-m01", "pharmacy_claims/2026-12-06", "responses/2026-12-06-r01"]
    assert partitions == {"members": ["2026-12-06-m01"], "pharmacy_claims": ["2026-12-06"], "responses": ["2026-12-06-r01"]}
    assert all(r.partition_key in r.tags["dataplatform/outreach_delivery"] for r in requests)
    assert events[0].passed and events[0].check_name == CHECK
    # The same content gives the same run keys (Dagster launches a run key once); unchanged: no new report.
    again, _, events, _, _ = tick(lake, kv, cursor=cursor)
    assert [r.run_key for r in again] == [r.run_key for r in requests] and events == []
    # A re-sent file is a new state of the delivery: a new run key.
    key = "outreach/pharmacy_claims/2026-12-06/claims-0001.csv"
    lake.put("landing", key, lake.get("landing", key) + b"")
    lake.put("landing", key, lake.get("landing", key).replace(b"\n", b"\r\n", 1))
    changed, _, _, _, _ = tick(lake, kv)
    before = {r.partition_key: r.run_key for r in requests}
    assert {r.partition_key: r.run_key for r in changed}["2026-12-06"] != before["2026-12-06"]
    assert {r.partition_key: r.run_key for r in changed}["2026-12-06-m01"] == before["2026-12-06-m01"]


def test_a_failed_run_is_retried_under_a_new_key(zone):
    lake, kv = zone
    first, _, _, _, _ = tick(lake, kv)
    failed = {r.run_key: ("failed", AFTER_CUTOFF - timedelta(minutes=1)) for r in first}
    retried, _, _, _, _ = tick(lake, kv, runs=failed)
    assert sorted(r.run_key for r in retried) == sorted(f"{r.run_key}#2" for r in first)


def test_a_partial_delivery_waits_and_says_why(zone):
    lake, kv = zone
    lake.delete("landing", "outreach/responses/2026-12-06-r01/responses-0002.jsonl")
    requests, _, events, _, stats = tick(lake, kv)
    assert "responses/2026-12-06-r01" not in {r.tags["dataplatform/outreach_delivery"] for r in requests}
    assert stats["waiting"] == 1 and events[0].passed  # waiting is not a failure, but it is said
    assert "waiting responses/2026-12-06-r01: responses-0002.jsonl is listed in the manifest and missing" in events[0].description


def test_a_delivery_without_its_manifest_yet_waits(zone):
    lake, kv = zone
    lake.delete("landing", "outreach/members/2026-12-06-m01/manifest.json")
    _, _, events, _, stats = tick(lake, kv)
    assert stats["waiting"] == 1 and "members/2026-12-06-m01: no manifest.json yet (1 files)" in events[0].description


def test_a_file_of_the_wrong_size_waits(zone):
    lake, kv = zone
    key = "outreach/members/2026-12-06-m01/members-0001.csv.gz"
    lake.put("landing", key, lake.get("landing", key)[:-10])
    _, _, events, _, _ = tick(lake, kv)
    manifest = json.loads(lake.get("landing", "outreach/members/2026-12-06-m01/manifest.json"))
    listed = manifest["files"][0]["bytes"]
    assert f"members-0001.csv.gz has {listed - 10} bytes, the manifest says {listed}" in events[0].description


def test_a_daily_cutoff_feed_waits_for_its_cutoff(zone):
    lake, kv = zone
    requests, _, events, _, _ = tick(lake, kv, now=datetime(2026, 12, 7, 1, 59, tzinfo=timezone.utc))
    assert "pharmacy_claims/2026-12-06" not in {r.tags["dataplatform/outreach_delivery"] for r in requests}
    assert "waiting pharmacy_claims/2026-12-06: waits for the cut-off at 2026-12-07 02:00 UTC" in events[0].description


def test_a_refused_delivery_is_reported_and_not_requested_until_it_changes(zone):
    lake, kv = zone
    requests, _, _, _, _ = tick(lake, kv)
    members = next(r for r in requests if r.partition_key == "2026-12-06-m01")
    fingerprint = members.run_key.rsplit(":", 1)[-1]
    state.record_outcome(kv, "members", "2026-12-06-m01", fingerprint, "refused", "field 'ssn' has no rule", "v")
    requests, _, events, _, stats = tick(lake, kv)
    assert "2026-12-06-m01" not in {r.partition_key for r in requests}
    assert not events[0].passed and stats["refused"] == 1
    assert "refused members/2026-12-06-m01: field 'ssn' has no rule" in events[0].description


def test_objects_outside_any_delivery_are_reported(zone):
    lake, kv = zone
    lake.put("landing", "outreach/readme.txt", b"x")
    lake.put("landing", "outreach/surveys/2026-12-06/a.csv", b"x")
    lake.put("landing", "outreach/members/latest/a.csv", b"x")
    _, _, events, _, stats = tick(lake, kv)
    assert not events[0].passed and stats["strays"] == 3
    for text in ("outreach/readme.txt: not in a feed folder", "unknown feed 'surveys'",
                 "outreach/members/latest/: a delivery id starts with its day"):
        assert text in events[0].description
