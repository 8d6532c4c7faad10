"""The KeyValueStore contract: every test runs against SqliteKeyValueStore and DynamoDbKeyValueStore (moto)."""

from __future__ import annotations

import multiprocessing
import random
import threading
import time

import pytest

from dataplatform.resources.kv import ConditionFailed, SqliteKeyValueStore

TABLE = "counters"


@pytest.fixture
def table(kv) -> str:
    kv.ensure_table(TABLE)
    return TABLE


def test_ensure_table_is_idempotent_and_missing_tables_raise(kv):
    with pytest.raises(LookupError):
        kv.get("missing", "k")
    with pytest.raises(LookupError):
        kv.put("missing", "k", {"a": 1}, expected_version=None)
    with pytest.raises(LookupError):
        kv.scan("missing")
    kv.ensure_table(TABLE)
    kv.put(TABLE, "k", {"a": 1}, expected_version=None)
    kv.ensure_table(TABLE)  # again: keeps the data
    assert kv.get(TABLE, "k") == {"a": 1, "version": 1}


def test_put_get_round_trip(kv, table):
    assert kv.get(table, "absent") is None
    item = {"count": 42, "big": 10**37, "negative": -7, "ratio": 0.1, "tiny": 1.5e-7, "name": "ε-ünïcode", "empty": ""}
    assert kv.put(table, "stream/shard-0001", item, expected_version=None) == 1
    got = kv.get(table, "stream/shard-0001")
    assert got == {**item, "version": 1}
    assert all(type(got[name]) is type(value) for name, value in item.items())


def test_integral_floats_come_back_as_int(kv, table):
    # DynamoDB stores numbers, not floats: 2.0 and 2 are the same value there, so both adapters say int.
    kv.put(table, "k", {"whole": 2.0, "half": 2.5}, expected_version=None)
    got = kv.get(table, "k")
    assert (got["whole"], type(got["whole"])) == (2, int)
    assert (got["half"], type(got["half"])) == (2.5, float)


def test_version_increments_and_put_replaces_the_whole_item(kv, table):
    assert kv.put(table, "k", {"a": 1, "b": "x"}, expected_version=None) == 1
    assert kv.put(table, "k", {"a": 2}, expected_version=1) == 2
    assert kv.get(table, "k") == {"a": 2, "version": 2}  # b is gone: put writes the whole item
    # A read-modify-write may hand back the item `get` returned, version included.
    item = kv.get(table, "k")
    item["a"] += 1
    assert kv.put(table, "k", item, expected_version=item["version"]) == 3
    assert kv.get(table, "k") == {"a": 3, "version": 3}


def test_put_with_stale_version_raises_and_leaves_item_unchanged(kv, table):
    kv.put(table, "k", {"a": 1}, expected_version=None)
    kv.put(table, "k", {"a": 2}, expected_version=1)
    for stale in (1, 0, 3, 99):
        with pytest.raises(ConditionFailed):
            kv.put(table, "k", {"a": 100}, expected_version=stale)
    assert kv.get(table, "k") == {"a": 2, "version": 2}


def test_put_expecting_absence_on_existing_item_raises(kv, table):
    kv.put(table, "k", {"a": 1}, expected_version=None)
    with pytest.raises(ConditionFailed):
        kv.put(table, "k", {"a": 100}, expected_version=None)
    assert kv.get(table, "k") == {"a": 1, "version": 1}
    with pytest.raises(ConditionFailed):  # and expecting a version of a missing item
        kv.put(table, "other", {"a": 1}, expected_version=1)
    assert kv.get(table, "other") is None


def test_put_rejects_values_dynamodb_cannot_hold(kv, table):
    for bad, error in (
        ({"pk": "x"}, ValueError),
        ({"flag": True}, TypeError),
        ({"nested": {"a": 1}}, TypeError),
        ({"nan": float("nan")}, ValueError),
        ({"huge": 10**38}, ValueError),
    ):
        with pytest.raises(error):
            kv.put(table, "k", bad, expected_version=None)
    assert kv.get(table, "k") is None


class LostReply(ConnectionError):
    pass


def lose_first_reply(operation):
    """The operation takes effect but the caller sees an error, as when a response times out."""
    calls = []

    def wrapper(*args, **kwargs):
        result = operation(*args, **kwargs)
        calls.append(result)
        if len(calls) == 1:
            raise LostReply("reply lost after the write was applied")
        return result

    wrapper.calls = calls
    return wrapper


def with_retries(action, attempts: int = 3):
    for _ in range(attempts - 1):
        try:
            return action()
        except LostReply:
            continue
    return action()


def naive_increment(kv, table, key, counters):
    """The seed's consumer: read, add, write back (versioned, yet not idempotent)."""
    item = kv.get(table, key) or {}
    updated = dict(item)
    for name, delta in counters.items():
        updated[name] = updated.get(name, 0) + delta
    kv.put(table, key, updated, expected_version=item.get("version"))


def conditional_increment(kv, table, key, counters) -> None:
    """Read, add, write back only if nobody wrote in between; on a conflict read again."""
    while True:
        item = kv.get(table, key) or {}
        updated = {name: item.get(name, 0) + delta for name, delta in counters.items()}
        try:
            kv.put(table, key, {**item, **updated}, expected_version=item.get("version"))
            return
        except ConditionFailed:
            continue


def test_retried_increment_double_counts_where_writing_the_computed_value_does_not(kv, table, monkeypatch):
    batch = {"events": 500, "bytes": 123_456}
    put = kv.put

    # The seed's bug: the first write lands, its reply is lost, the retry re-reads and adds the
    # batch again. The version check does not help: the retry reads the new version and writes.
    monkeypatch.setattr(kv, "put", lose_first_reply(kv.put))
    with_retries(lambda: naive_increment(kv, table, "naive", batch))
    assert len(kv.put.calls) == 2
    naive = kv.get(table, "naive")
    assert (naive["events"], naive["bytes"]) == (1000, 246_912)  # double counted

    # The platform's way: the value is recomputed from the stored input and written as a value,
    # so the same lost reply and retry leave it exact.
    monkeypatch.setattr(kv, "put", lose_first_reply(put))

    def write_value():
        item = kv.get(table, "exact")
        if item is not None and (item["events"], item["bytes"]) == (500, 123_456):
            return
        kv.put(table, "exact", batch, expected_version=None if item is None else item["version"])

    with_retries(write_value)
    exact = kv.get(table, "exact")
    assert (exact["events"], exact["bytes"], exact["version"]) == (500, 123_456, 1)


def test_concurrent_conditional_increments_count_exactly(kv, table):
    threads_count = 8
    start = threading.Barrier(threads_count)
    errors = []

    def consume(amount: int) -> None:
        try:
            start.wait()
            conditional_increment(kv, table, "k", {"events": amount, "batches": 1})
        except Exception as error:  # surfaced below
            errors.append(error)

    amounts = [(index + 1) * 10 for index in range(threads_count)]
    threads = [threading.Thread(target=consume, args=(amount,)) for amount in amounts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    got = kv.get(table, "k")
    assert got["events"] == sum(amounts)
    assert got["batches"] == threads_count == got["version"]


def test_scan_with_prefix_is_sorted_by_key(kv, table):
    keys = ["vpc/eni-b", "cloudfront/E2", "cloudfront/E1", "cloudfronts/x", "vpc/eni-a", "z"]
    for index, key in enumerate(keys):
        kv.put(table, key, {"n": index}, expected_version=None)
    assert [key for key, _ in kv.scan(table)] == sorted(keys)
    assert kv.scan(table, "cloudfront/") == [("cloudfront/E1", {"n": 2, "version": 1}), ("cloudfront/E2", {"n": 1, "version": 1})]
    assert [key for key, _ in kv.scan(table, "cloudfront")] == ["cloudfront/E1", "cloudfront/E2", "cloudfronts/x"]
    assert kv.scan(table, "nothing") == []


def test_scan_pages_through_many_items(kv, table):
    # Enough data to pass DynamoDB's 1 MB scan page.
    filler = "x" * 40_000
    for index in range(30):
        kv.put(table, f"k{index:03d}", {"pad": filler, "n": index}, expected_version=None)
    found = kv.scan(table, "k0")
    assert [item["n"] for _, item in found] == list(range(30))


# Local only: two processes.


def _consume_in_process(path, barrier, results, name, count):
    store = SqliteKeyValueStore(path)
    jitter = random.Random(name)
    barrier.wait()
    for amount in range(1, count + 1):
        conditional_increment(store, TABLE, "shared", {"events": amount})
        time.sleep(jitter.random() * 0.004)  # uneven pace, so the writers interleave
    results.put(name)


def test_local_two_processes_count_exactly(tmp_path):
    path = tmp_path / "kv.sqlite"
    store = SqliteKeyValueStore(path)
    store.ensure_table(TABLE)
    count = 150
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    processes = [context.Process(target=_consume_in_process, args=(path, barrier, results, name, count)) for name in "ab"]
    for process in processes:
        process.start()
    assert sorted(results.get(timeout=120) for _ in processes) == ["a", "b"]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    shared = store.get(TABLE, "shared")
    assert shared["events"] == 2 * count * (count + 1) // 2
    assert shared["version"] == 2 * count
