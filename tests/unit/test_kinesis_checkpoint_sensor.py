"""The Kinesis checkpoint sensor at tick level: ranges, run keys, checkpoints that advance
only on success, retries of failed ranges, and reshards (parents before children)."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from dataplatform.resources.stream import LocalStreamStore
from dataplatform.streams import StreamPolicy
from sensors.kinesis_checkpoints import DONE, FAILED, RUNNING, checkpoint_sensor, evaluate, load_cursor

POLICY = StreamPolicy("clicks", "web_analytics", "raw/web_analytics/events", shards=2, max_records_per_range=1000,
                      allowed_lateness_seconds=60)


@pytest.fixture
def store(tmp_path):
    store = LocalStreamStore(tmp_path / "streams.sqlite")
    store.create_stream("clicks", 2)
    return store


def put(store, n: int, prefix: str = "k") -> None:
    store.put_records("clicks", [(f"{prefix}{i}", f"event {prefix}{i}".encode()) for i in range(n)])


def ranges_of(request: dg.RunRequest) -> dict:
    return request.run_config["ops"]["clicks_ranges"]["config"]["ranges"]


def shard_ends(store) -> dict[str, list[str]]:
    ends = {}
    for shard in store.list_shards("clicks"):
        records = store.read("clicks", shard.shard_id, limit=100_000)
        if records:
            ends[shard.shard_id] = [records[0].sequence_number, records[-1].sequence_number]
    return ends


def test_one_run_per_stream_covering_every_shards_new_range(store):
    put(store, 50)
    requests, cursor, _ = evaluate(POLICY, store, None, lambda key: None)
    (request,) = requests
    assert ranges_of(request) == shard_ends(store)
    assert request.run_key.startswith("clicks:shardId-000000000000:")
    assert request.asset_selection == POLICY.asset_keys
    checkpoints, pending = load_cursor(cursor)
    assert checkpoints == {} and list(pending) == [request.run_key]


def test_checkpoint_advances_only_when_the_run_succeeded(store):
    put(store, 20)
    (first,), cursor, _ = evaluate(POLICY, store, None, lambda key: None)
    # Still running: nothing new is asked for those shards, the checkpoint stays.
    put(store, 20, "more")
    requests, cursor2, _ = evaluate(POLICY, store, cursor, lambda key: RUNNING)
    assert requests == [] and load_cursor(cursor2)[0] == {}
    # Succeeded: checkpoints move to the ends of the range, and the new records form the next range.
    requests, cursor3, _ = evaluate(POLICY, store, cursor2, lambda key: DONE if key == first.run_key else None)
    checkpoints, _ = load_cursor(cursor3)
    assert checkpoints == {shard: last for shard, (_, last) in ranges_of(first).items()}
    (second,) = requests
    for shard, (start, _) in ranges_of(second).items():
        assert int(start) > int(checkpoints[shard])


def test_failed_range_is_requested_again_under_a_new_run_key(store):
    put(store, 20)
    (first,), cursor, _ = evaluate(POLICY, store, None, lambda key: None)
    (retry,), cursor2, _ = evaluate(POLICY, store, cursor, lambda key: FAILED)
    assert ranges_of(retry) == ranges_of(first) and retry.run_key == first.run_key + "#2"
    assert load_cursor(cursor2)[0] == {}  # nothing acknowledged
    # The retry succeeds: then and only then the checkpoint moves.
    requests, cursor3, _ = evaluate(POLICY, store, cursor2, lambda key: DONE if key == retry.run_key else None)
    assert requests == [] and load_cursor(cursor3)[0] == {s: last for s, (_, last) in ranges_of(first).items()}


def test_replayed_tick_gives_the_same_run_key(store):
    put(store, 30)
    first, _, _ = evaluate(POLICY, store, None, lambda key: None)
    again, _, _ = evaluate(POLICY, store, None, lambda key: None)
    assert [r.run_key for r in first] == [r.run_key for r in again]


def test_ranges_are_bounded(store):
    put(store, 3000)
    (request,), _, _ = evaluate(POLICY, store, None, lambda key: None)
    for shard, (first, last) in ranges_of(request).items():
        taken = store.read("clicks", shard, position="AT_SEQUENCE_NUMBER", sequence_number=first, limit=100_000)
        assert sum(1 for r in taken if int(r.sequence_number) <= int(last)) == POLICY.max_records_per_range


def test_children_wait_until_their_closed_parent_is_read_to_the_end(store):
    put(store, 40)
    parent = store.list_shards("clicks")[0].shard_id
    children = store.split_shard("clicks", parent)
    put(store, 40, "after")
    (request,), cursor, _ = evaluate(POLICY, store, None, lambda key: None)
    assert parent in ranges_of(request) and not set(children) & set(ranges_of(request))
    # Parent finished: its children are picked up.
    (request2,), _, _ = evaluate(POLICY, store, cursor, lambda key: DONE)
    assert set(children) & set(ranges_of(request2)) and parent not in ranges_of(request2)


def test_decorated_sensor_creates_the_stream_and_resumes_from_its_cursor(tmp_path):
    from assets.web_analytics.stream import web_analytics_ranges
    from dataplatform.resources.catalog import LocalCatalog
    from dataplatform.resources.lake import LocalObjectStore
    from dataplatform.streams import streams

    policy = streams()["web_analytics_events"]
    store = LocalStreamStore(tmp_path / "streams.sqlite")
    sensor = checkpoint_sensor(policy)
    defs = dg.Definitions(assets=[web_analytics_ranges], sensors=[sensor],
                          resources={"stream": store, "lake": LocalObjectStore(tmp_path / "lake"),
                                     "catalog": LocalCatalog(tmp_path / "catalog.sqlite")})
    with dg.instance_for_test() as instance:
        def tick(cursor):
            context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs, resources={"stream": store})
            return sensor.evaluate_tick(context)

        empty = tick(None)
        assert empty.run_requests == [] and len(store.list_shards(policy.name)) == policy.shards
        assert json.loads(empty.cursor) == {"checkpoints": {}, "pending": {}}
        store.put_records(policy.name, [(f"ip{i}", b"{}") for i in range(10)])
        (request,) = tick(empty.cursor).run_requests
        assert request.run_config["ops"]["web_analytics_events_ranges"]["config"]["ranges"]
