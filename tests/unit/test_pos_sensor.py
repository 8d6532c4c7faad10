"""The pos_windows sensor at tick level: a window is loaded when, and only when, it is complete
(or at its deadline where the region aggregates partial windows), once per set of deliveries."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import dagster as dg
import pytest

from assets.pos import sample
from assets.pos.assets import pos_window_load
from assets.pos.sensor import CHECK, COMPLETENESS, LANDING, evaluate, pos_windows_sensor
from dataplatform.resources.catalog import LocalCatalog
from dataplatform.resources.kv import SqliteKeyValueStore
from dataplatform.resources.lake import LocalObjectStore
from dataplatform.resources.notify import LocalOutbox
from dataplatform.run_attempts import DONE, FAILED

DAY = date(2026, 11, 20)
BEFORE_DEADLINE = datetime(2026, 11, 20, 18, tzinfo=timezone.utc)
AFTER_DEADLINE = datetime(2026, 11, 21, 7, tzinfo=timezone.utc)  # us-east/us-west: end of day + 6 h
EAST, WEST = f"{DAY}|us-east", f"{DAY}|us-west"


class Runs:
    """What Dagster's run storage says about run keys: requested runs succeed unless told otherwise."""

    def __init__(self):
        self.states: dict[str, str] = {}

    def __call__(self, run_key):
        return (self.states[run_key], None) if run_key in self.states else None

    def launch(self, requests, outcome=DONE):
        for request in requests:
            self.states[request.run_key] = outcome


class Tick:
    def __init__(self, tmp_path):
        self.lake = LocalObjectStore(tmp_path / "lake")
        self.kv = SqliteKeyValueStore(tmp_path / "kv.sqlite")
        self.outbox = LocalOutbox(tmp_path / "outbox")
        self.cursor = None
        self.runs = Runs()

    def __call__(self, now):
        requests, self.cursor, events, stats = evaluate(self.lake, self.kv, self.outbox, self.cursor, now, self.runs)
        return requests, events, stats

    def notifications(self) -> list[dict]:
        path = self.outbox.path / "pos-windows.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def windows(requests) -> dict[str, dg.RunRequest]:
    return {r.partition_key: r for r in requests}


def check_of(events) -> dg.AssetCheckEvaluation:
    [check] = [e for e in events if isinstance(e, dg.AssetCheckEvaluation)]
    assert check.asset_key == COMPLETENESS and check.check_name == CHECK
    return check


def write(tick, **options):
    spec = sample.SampleSpec(start=DAY, days=1, regions=2, stores=3, deliveries_per_day=2, seed=3, duplicate=False, **options)
    return sample.generate(tick.lake, spec)


@pytest.fixture
def tick(tmp_path):
    return Tick(tmp_path)


def test_an_incomplete_window_waits_and_alerts_once_after_its_deadline(tick):
    write(tick, missing=frozenset({("S0002", DAY)}))
    requests, events, _ = tick(BEFORE_DEADLINE)
    assert requests == [] and check_of(events).passed  # nothing loads before the deadline
    materialised = {e.partition: e for e in events if isinstance(e, dg.AssetMaterialization)}
    assert set(materialised) == {EAST, WEST}
    assert materialised[EAST].metadata["missing_stores"].value == "S0002"
    table = {row.data["store_id"]: row.data for row in materialised[EAST].metadata["stores"].value.records}
    assert table["S0002"]["received"] == 0 and table["S0001"]["received"] == 2 and table["S0002"]["missing_since"]

    requests, events, _ = tick(AFTER_DEADLINE)
    check = check_of(events)
    assert not check.passed and "S0002" in check.description and EAST in check.metadata["overdue_windows"].value
    # us-east waits (at_deadline: wait); us-west aggregates what arrived, marked incomplete.
    assert set(windows(requests)) == {WEST}
    assert windows(requests)[WEST].tags["dataplatform/pos_complete"] == "false"
    assert sorted(n["message"]["window"] for n in tick.notifications()) == [EAST, WEST]
    tick.runs.launch(requests)

    requests, events, _ = tick(AFTER_DEADLINE + timedelta(hours=1))
    assert requests == [] and events == []  # nothing changed: no second alert, no repeated report
    assert len(tick.notifications()) == 2
    tick.cursor = None  # another evaluator with its own cursor (catch-up, then the daemon's sensor)
    tick(AFTER_DEADLINE + timedelta(hours=2))
    assert len(tick.notifications()) == 2


def test_the_last_delivery_completes_the_window_and_it_loads_once(tick):
    write(tick, missing=frozenset({("S0002", DAY)}))
    tick(BEFORE_DEADLINE)
    cursor_before = tick.cursor
    write(tick, only=frozenset({("S0002", DAY)}))  # the late store delivers
    requests, events, _ = tick(BEFORE_DEADLINE + timedelta(hours=1))
    assert set(windows(requests)) == {EAST, WEST}
    assert all(r.tags["dataplatform/pos_complete"] == "true" for r in requests)
    assert check_of(events).passed
    first_keys = {r.run_key for r in requests}

    # A tick whose result was lost is evaluated again from the older cursor: the same run keys,
    # which Dagster launches once.
    replay = Tick.__new__(Tick)
    replay.__dict__ = {**tick.__dict__, "cursor": cursor_before}
    assert {r.run_key for r in replay(BEFORE_DEADLINE + timedelta(hours=1))[0]} == first_keys

    tick.runs.launch(requests)
    assert tick(BEFORE_DEADLINE + timedelta(hours=2))[0] == []
    # Complete windows never alert (the next day, with nothing delivered, does).
    later = tick(AFTER_DEADLINE + timedelta(days=1))[0]
    assert not {EAST, WEST} & set(windows(later))
    assert not {EAST, WEST} & {n["message"]["window"] for n in tick.notifications()}


def test_a_duplicate_changes_nothing_and_a_correction_reruns_its_window_only(tick):
    written = write(tick)
    requests, _, _ = tick(BEFORE_DEADLINE)
    assert set(windows(requests)) == {EAST, WEST}
    tick.runs.launch(requests)

    original = next(info for info in written if "/us-east/S0001/" in info.key)
    tick.lake.put("landing", original.key.replace("/d1-", "/d1-again-").replace("/d2-", "/d2-again-"),
                  tick.lake.get("landing", original.key))
    requests, events, _ = tick(BEFORE_DEADLINE + timedelta(hours=1))
    assert requests == []  # same content: the window's digest is unchanged
    [report] = [e for e in events if isinstance(e, dg.AssetMaterialization)] or [None]
    assert report is None or report.partition == EAST

    write(tick, only=frozenset({("S0001", DAY)}), corrected=frozenset({("S0001", DAY)}))
    requests, _, _ = tick(BEFORE_DEADLINE + timedelta(hours=2))
    # The correction rewrote us-east's and us-west's S0001 (both regions): each window re-runs once.
    assert set(windows(requests)) == {EAST, WEST}
    assert not {r.run_key for r in requests} & set(tick.runs.states)


def test_a_failed_load_is_requested_again_under_a_new_key(tick):
    write(tick)
    requests, _, _ = tick(BEFORE_DEADLINE)
    tick.runs.launch(requests, outcome=FAILED)
    retried = tick(BEFORE_DEADLINE + timedelta(minutes=1))[0]
    assert sorted(r.run_key for r in retried) == sorted(f"{r.run_key}#2" for r in requests)


def test_unknown_stores_and_invalid_keys_are_reported_never_loaded(tick):
    write(tick, extra_stores=("S0099",))
    tick.lake.put("landing", f"pos/us-east/S0001/{DAY}/notes.txt", b"hello")
    tick.lake.put("landing", "pos/us-east/readme.md", b"hello")
    tick.lake.put("landing", "pos/us-east/items/latest.csv", b"item_id\n")
    requests, events, stats = tick(BEFORE_DEADLINE)
    assert set(windows(requests)) == {EAST, WEST}  # complete without the unknown store
    [observation] = [e for e in events if isinstance(e, dg.AssetObservation)]
    assert observation.asset_key == LANDING
    reported = "\n".join(observation.metadata["not_loaded"].value)
    assert all(name in reported for name in ("S0099", "notes.txt", "readme.md", "latest.csv"))
    assert stats["unknown_store_files"] == 4 and stats["invalid"] == 3  # 2 regions x 2 deliveries of S0099
    requests, events, _ = tick(BEFORE_DEADLINE + timedelta(hours=1))
    assert not [e for e in events if isinstance(e, dg.AssetObservation)]  # reported once


def test_a_tick_lists_the_open_days_not_the_history(tick):
    """The listing cost of a tick follows the open days (lateness), not how many days were delivered."""
    listed = []
    original = tick.lake.list

    def counting(bucket, prefix="", start_after=""):
        found = list(original(bucket, prefix, start_after))
        if "/items/" not in prefix and "/stores/" not in prefix:  # dated masters: one per sample here
            listed.append(len(found))
        return iter(found)

    tick.lake.list = counting
    cost = []
    for days in (5, 15):
        spec = sample.SampleSpec(start=DAY - timedelta(days=days), days=days, regions=1, stores=4, deliveries_per_day=2)
        sample.generate(tick.lake, spec)
        midnight = datetime.combine(DAY, datetime.min.time(), timezone.utc)
        tick(midnight)  # the first tick lists every day,
        tick(midnight + timedelta(minutes=1))  # the next reconciles the zone (every 15 minutes),
        listed.clear()
        tick(midnight + timedelta(minutes=2))  # the others list the open days only
        cost.append((len(listed), sum(listed)))
    assert cost[0] == cost[1]


def test_the_sensor_definition_ticks_with_its_resources(tmp_path):
    tick = Tick(tmp_path)
    write(tick)
    sensor = pos_windows_sensor()
    resources = {"lake": tick.lake, "kv": tick.kv, "notify": tick.outbox}
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance, cursor=None, resources=resources,
            definitions=dg.Definitions(assets=[pos_window_load], sensors=[sensor],
                                       resources={**resources, "catalog": LocalCatalog(tmp_path / "catalog.sqlite")}))
        result = sensor.evaluate_tick(context)
    assert len(result.run_requests) == 2  # the day is over: both windows complete
    assert all(r.asset_selection and r.tags["dataplatform/writer"] == "raw/pos" for r in result.run_requests)
    assert json.loads(result.cursor)["watermark"] == DAY.isoformat()


def test_a_delivery_later_than_the_lateness_is_found_by_the_reconciliation(tick):
    """The window waits past the open days; its store delivers ten days late: the reconciliation
    (every 15 minutes) finds the unprocessed files and the window loads."""
    from assets.pos.policy import ZONE, window_of
    from dataplatform.ledger import Ledger

    def loaded(requests):  # what each load does to the ledger: its window's objects are processed
        for request in requests:
            region, day = window_of(request.partition_key)
            objects = {i.key: i.etag for i in tick.lake.list("landing", f"pos/{region}/") if f"/{day}/" in i.key}
            Ledger(tick.lake, ZONE).merge(datetime.combine(day, datetime.min.time(), timezone.utc), objects, "run")
        tick.runs.launch(requests)

    write(tick, missing=frozenset({("S0002", DAY)}))
    now = AFTER_DEADLINE
    for _ in range(12):  # a day at a time: the open days move on, us-east's DAY is left waiting
        loaded(tick(now)[0])
        now += timedelta(days=1)
    _, events, _ = tick(now)  # a reconciling tick: the waiting window is still evaluated and reported
    assert EAST in check_of(events).metadata["overdue_windows"].value
    write(tick, only=frozenset({("S0002", DAY)}))
    requests, _, _ = tick(now + timedelta(minutes=1))  # within 15 minutes of it: only the open days
    assert EAST not in windows(requests)
    requests, _, _ = tick(now + timedelta(minutes=20))
    assert EAST in windows(requests) and windows(requests)[EAST].tags["dataplatform/pos_complete"] == "true"
